# sfmpi-gendata: the vertically partitioned sample data set (alice/bob/carol .h5), used by
# scripts/gen-data.
add_executable(sfmpi-gendata ${CMAKE_CURRENT_SOURCE_DIR}/sfmpi-gendata.c)
target_link_libraries(sfmpi-gendata PRIVATE sfmpi::internal sfmpi_hdf5 MPI::MPI_C m)
target_include_directories(sfmpi-gendata PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(sfmpi-gendata PRIVATE _GNU_SOURCE)
sf_target_defaults(sfmpi-gendata)
