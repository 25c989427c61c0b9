# SPU protocol core (devices/spu): a static library independent of the runtime.
# Included by tests/spu/spu.cmake and bench/spu.cmake (whichever comes first defines it).
if(NOT TARGET sfmpi_spu)
  file(GLOB _sf_spu_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/devices/spu/core/*.c)
  add_library(sfmpi_spu STATIC ${_sf_spu_srcs})
  target_include_directories(sfmpi_spu PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
  target_compile_definitions(sfmpi_spu PRIVATE _GNU_SOURCE)
  target_link_libraries(sfmpi_spu PUBLIC PkgConfig::SODIUM Threads::Threads m)
  set_target_properties(sfmpi_spu PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # the hot loops are vectorised at -O3 (with AVX2 / AVX-512 clones, SPU_HOT)
  target_compile_options(sfmpi_spu PRIVATE $<$<NOT:$<CONFIG:Debug>>:-O3>)
  sf_target_defaults(sfmpi_spu)
endif()
