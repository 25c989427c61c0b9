# Party communicator backends (mpi/party_mpi.c, mpi/party_mem.c, mpi/party_reduce.c):
# every operation with known answers (tests/party/pcomm_cases.h).
#   pcomm_mpi_np{1,2,3}:    the MPI backend under mpirun;
#   pcomm_mpi_np3_pieces:   the same with 64-byte pieces (SF_PCOMM_CHUNK_BYTES), which
#                           forces chunked messages/reductions and the row-typed and
#                           point-to-point gather/scatter paths;
#   pcomm_mem:              the debug backend on coroutines, 1..5 ranks (no MPI);
#   pcomm_mem_vs_mpi_np{1,2}: both backends in one job, same values on every rank.
foreach(t test_pcomm_mpi test_pcomm_mem)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/party/${t}.c)
  target_link_libraries(${t} PRIVATE sfmpi::internal MPI::MPI_C)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(${t} PRIVATE _GNU_SOURCE)
  sf_target_defaults(${t})
endforeach()
foreach(n 1 2 3)
  sf_add_test(NAME pcomm_mpi_np${n} MODE sim NPROCS ${n} COMMAND $<TARGET_FILE:test_pcomm_mpi>
              LABELS ranks TIMEOUT 60)
endforeach()
sf_add_test(NAME pcomm_mpi_np3_pieces MODE sim NPROCS 3
            COMMAND env SF_PCOMM_CHUNK_BYTES=64 $<TARGET_FILE:test_pcomm_mpi>
            LABELS ranks TIMEOUT 60)
sf_add_test(NAME pcomm_mem COMMAND $<TARGET_FILE:test_pcomm_mem> LABELS ranks TIMEOUT 60)
foreach(n 1 2)
  sf_add_test(NAME pcomm_mem_vs_mpi_np${n} MODE sim NPROCS ${n} COMMAND $<TARGET_FILE:test_pcomm_mem>
              LABELS ranks TIMEOUT 60)
endforeach()
# mem_bcast: debug mode's shared record for a message to many parties (order, wakes,
# references, leftovers, recycling); mem_model: the debug fabric against a model on 320
# random runs (orders, wakes, pending counts, references; blocking receives on coroutines).
foreach(t mem_bcast mem_model)
  add_executable(test_${t} ${CMAKE_CURRENT_SOURCE_DIR}/party/test_${t}.c)
  target_link_libraries(test_${t} PRIVATE sfmpi::internal)
  target_include_directories(test_${t} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(test_${t} PRIVATE _GNU_SOURCE)
  sf_target_defaults(test_${t})
  sf_add_test(NAME ${t} COMMAND $<TARGET_FILE:test_${t}> LABELS ranks TIMEOUT 120)
endforeach()
