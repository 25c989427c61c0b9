# sfmpi-gendata: the vertically partitioned sample data set (alice/bob/carol .h5), used by
# scripts/gen-data.
if(NOT TARGET PkgConfig::HDF5)
  pkg_check_modules(HDF5 REQUIRED IMPORTED_TARGET GLOBAL hdf5-openmpi)
endif()
add_executable(sfmpi-gendata ${CMAKE_CURRENT_SOURCE_DIR}/sfmpi-gendata.c
                             ${PROJECT_SOURCE_DIR}/io/h5.c)
target_link_libraries(sfmpi-gendata PRIVATE sfmpi::sfmpi PkgConfig::HDF5 MPI::MPI_C m)
target_include_directories(sfmpi-gendata PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(sfmpi-gendata PRIVATE _GNU_SOURCE)
sf_target_defaults(sfmpi-gendata)
