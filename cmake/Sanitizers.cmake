# MAILPROXY_SANITIZE="address;undefined" builds everything with those sanitizers.
set(MAILPROXY_SANITIZE "" CACHE STRING "Sanitizers to enable, e.g. address;undefined")
add_library(mailproxy_sanitizers INTERFACE)
if(MAILPROXY_SANITIZE)
  list(JOIN MAILPROXY_SANITIZE "," _mailproxy_san)
  target_compile_options(mailproxy_sanitizers INTERFACE
    -fsanitize=${_mailproxy_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(mailproxy_sanitizers INTERFACE -fsanitize=${_mailproxy_san})
endif()
