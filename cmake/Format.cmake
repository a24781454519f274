# `format` rewrites the sources with clang-format; `check-format` fails on any difference.
find_program(CLANG_FORMAT NAMES clang-format-14 clang-format)
if(CLANG_FORMAT)
  file(GLOB_RECURSE _mailproxy_sources CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/core/*.cpp ${PROJECT_SOURCE_DIR}/core/*.hpp
    ${PROJECT_SOURCE_DIR}/zone/*.cpp ${PROJECT_SOURCE_DIR}/zone/*.hpp
    ${PROJECT_SOURCE_DIR}/cli/*.cpp ${PROJECT_SOURCE_DIR}/cli/*.hpp
    ${PROJECT_SOURCE_DIR}/tests/*.cpp ${PROJECT_SOURCE_DIR}/tests/*.hpp)
  add_custom_target(format COMMAND ${CLANG_FORMAT} -i ${_mailproxy_sources})
  add_custom_target(check-format COMMAND ${CLANG_FORMAT} --dry-run --Werror ${_mailproxy_sources})
endif()
