# In-memory sf_spu_net (threads, byte queues, byte/round accounting) for the SPU tests and
# bench/bench_spu. Included by tests/spu/spu.cmake and bench/spu.cmake.
include(${PROJECT_SOURCE_DIR}/devices/spu/core/spu.cmake)
if(NOT TARGET sfmpi_spu_harness)
  add_library(sfmpi_spu_harness STATIC ${PROJECT_SOURCE_DIR}/tests/spu/spu_harness.c)
  target_compile_definitions(sfmpi_spu_harness PRIVATE _GNU_SOURCE)
  target_link_libraries(sfmpi_spu_harness PUBLIC sfmpi_spu)
  sf_target_defaults(sfmpi_spu_harness)
endif()
