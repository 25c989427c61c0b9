# HDF5 input/output (io/h5.c): serial round trips and error cases, collective reads under
# mpirun with 1, 2 and 3 ranks, atomic writes killed with SIGKILL, sf_h5_read with the
# read options (--sf-h5-*) on hostile files, and the sample data generator
# (tools/sfmpi-gendata) when it is built.

foreach(t test_h5 test_h5_mpi h5_writer)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/io/${t}.c ${PROJECT_SOURCE_DIR}/io/h5.c)
  target_link_libraries(${t} PRIVATE sfmpi::internal sfmpi_hdf5 MPI::MPI_C)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${t} PRIVATE _GNU_SOURCE)
  sf_target_defaults(${t})
endforeach()

sf_add_test(NAME io_h5 COMMAND $<TARGET_FILE:test_h5> LABELS io TIMEOUT 120)

add_executable(test_h5_read_opts ${CMAKE_CURRENT_SOURCE_DIR}/io/test_h5_read_opts.c)
target_link_libraries(test_h5_read_opts PRIVATE sfmpi::internal sfmpi_hdf5)
target_include_directories(test_h5_read_opts PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(test_h5_read_opts PRIVATE _GNU_SOURCE)
sf_target_defaults(test_h5_read_opts)
sf_add_test(NAME io_h5_read_opts
            COMMAND $<TARGET_FILE:test_h5_read_opts> --mpiexec ${MPIEXEC_EXECUTABLE}
            LABELS io TIMEOUT 180)
foreach(n 1 2 3)
  sf_add_test(NAME io_h5_mpi_${n} MODE sim NPROCS ${n} COMMAND $<TARGET_FILE:test_h5_mpi>
              LABELS io TIMEOUT 120)
endforeach()
sf_add_test(NAME io_h5_kill
            COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/io/test_h5_kill.sh $<TARGET_FILE:h5_writer> 30
            LABELS io TIMEOUT 120)
if(TARGET sfmpi-gendata)
  sf_add_test(NAME io_gendata
              COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/io/test_gendata.sh $<TARGET_FILE:sfmpi-gendata>
              LABELS io TIMEOUT 60)
endif()
