# Unit test of the coroutine layer (runtime/coro.c), built from the coro sources
# directly so it does not depend on the rest of the library.
set(_sf_coro_ucontext ${SF_CORO_UCONTEXT})
set(_sf_coro_srcs ${PROJECT_SOURCE_DIR}/runtime/coro.c)
if(NOT _sf_coro_ucontext)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
    list(APPEND _sf_coro_srcs ${PROJECT_SOURCE_DIR}/runtime/coro_x86_64.S)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
    list(APPEND _sf_coro_srcs ${PROJECT_SOURCE_DIR}/runtime/coro_aarch64.S)
  else()
    set(_sf_coro_ucontext ON)
  endif()
endif()

add_executable(test_coro ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_coro.c ${_sf_coro_srcs})
target_include_directories(test_coro PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR})
sf_target_defaults(test_coro)
target_compile_definitions(test_coro PRIVATE _GNU_SOURCE
  $<$<BOOL:${_sf_coro_ucontext}>:SF_CORO_UCONTEXT>)
target_link_libraries(test_coro PRIVATE m)
sf_add_test(NAME unit_coro COMMAND $<TARGET_FILE:test_coro> LABELS unit TIMEOUT 60)
