#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace mailproxy {

/// What kind of failure an Error is; the CLI maps it to an exit code.
enum class ErrorCode {
    invalid,      ///< the input (an entry, a file's content, an option) is not valid
    not_found,    ///< the object asked for does not exist
    exists,       ///< the object to create exists already
    io,           ///< reading or writing a file or directory failed
    corrupt,      ///< a stored file cannot be read as what it should be
    config,       ///< the configuration (config file, environment) is wrong or unsafe
    unavailable,  ///< a remote service could not be reached or gave no usable answer
    failed,       ///< any other failure of the operation
};

/// An expected failure: a code and a message a person can act on.
struct Error {
    ErrorCode code = ErrorCode::failed;
    std::string message;
};

template <typename T>
using Expected = tl::expected<T, Error>;

/// Shorthand for `tl::make_unexpected(Error{code, message})`.
inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
    return tl::make_unexpected(Error{code, std::move(message)});
}

}  // namespace mailproxy
