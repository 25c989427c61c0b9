# Context-switch benchmark: sfmpi coroutines vs glibc swapcontext (a measurement, not a
# test). Built from the coro sources directly, always with -O2.
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

add_executable(bench_switch ${CMAKE_CURRENT_SOURCE_DIR}/bench_switch.c ${_sf_coro_srcs})
target_include_directories(bench_switch PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/include ${PROJECT_SOURCE_DIR})
sf_target_defaults(bench_switch)
target_compile_options(bench_switch PRIVATE -O2)
target_compile_definitions(bench_switch PRIVATE _GNU_SOURCE
  $<$<BOOL:${_sf_coro_ucontext}>:SF_CORO_UCONTEXT>)
