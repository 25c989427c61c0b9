# SPU protocol core (devices/spu): a library independent of the runtime, built once as
# position-independent objects (sfmpi_spu_obj) that go into libsfmpi, and as a static
# library (sfmpi_spu) for the protocol tests and benchmarks that use it on its own.
if(NOT TARGET sfmpi_spu)
  file(GLOB _sf_spu_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/devices/spu/core/*.c)
  add_library(sfmpi_spu_obj OBJECT ${_sf_spu_srcs})
  target_include_directories(sfmpi_spu_obj PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include
    ${PROJECT_BINARY_DIR}/include)
  target_compile_definitions(sfmpi_spu_obj PRIVATE _GNU_SOURCE)
  target_link_libraries(sfmpi_spu_obj PUBLIC PkgConfig::SODIUM Threads::Threads m)
  set_target_properties(sfmpi_spu_obj PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # the hot loops are vectorised at -O3 (with AVX2 / AVX-512 clones, SPU_HOT)
  target_compile_options(sfmpi_spu_obj PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O3>)
  sf_target_defaults(sfmpi_spu_obj)
  add_library(sfmpi_spu STATIC)
  target_link_libraries(sfmpi_spu PUBLIC sfmpi_spu_obj)
endif()
