# Interface target carrying the project's warning flags; errors when the CI
# environment variable is set (or MAILPROXY_WERROR=ON), so local builds stay usable.
option(MAILPROXY_WERROR "Treat warnings as errors" OFF)
add_library(mailproxy_warnings INTERFACE)
target_compile_options(mailproxy_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Woverloaded-virtual -Wnull-dereference -Wformat=2
  -Wimplicit-fallthrough)
if(MAILPROXY_WERROR OR DEFINED ENV{CI})
  target_compile_options(mailproxy_warnings INTERFACE -Werror)
  set(MAILPROXY_WARNINGS_ARE_ERRORS ON)
else()
  set(MAILPROXY_WARNINGS_ARE_ERRORS OFF)
endif()
