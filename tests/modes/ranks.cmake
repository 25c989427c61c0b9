# Parties with several ranks and HDF5 data (labels "ranks" and "io"): the vertically
# partitioned data set from tools/sfmpi-gendata, read with sf_h5_read on every rank of a
# party, trained on with collective kernels: the same output in debug and simulation mode
# with 1 and 2 ranks per party, and in production with 2-rank party jobs.
if(TARGET vertical_linreg AND TARGET sfmpi-gendata)
  set(vdata ${CMAKE_CURRENT_BINARY_DIR}/vdata)
  add_test(NAME ranks_gendata COMMAND $<TARGET_FILE:sfmpi-gendata> --rows 3000 --out ${vdata})
  set_tests_properties(ranks_gendata PROPERTIES FIXTURES_SETUP vdata TIMEOUT 60 LABELS "ranks;io")
  set(golden ${CMAKE_CURRENT_SOURCE_DIR}/expected/vertical_linreg.out)
  foreach(k 1 2)
    sf_add_test(NAME ranks_linreg_debug_k${k} MODE debug
                COMMAND $<TARGET_FILE:vertical_linreg> ${vdata} --sf-quiet --sf-ranks-per-party=${k}
                LABELS "ranks;io" EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${golden} TIMEOUT 120)
    math(EXPR np "3 * ${k}")
    sf_add_test(NAME ranks_linreg_sim_k${k} MODE sim NPROCS ${np}
                COMMAND $<TARGET_FILE:vertical_linreg> ${vdata} --sf-quiet --sf-ranks-per-party=${k}
                LABELS "ranks;io" EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${golden} TIMEOUT 120)
    set_tests_properties(ranks_linreg_debug_k${k} ranks_linreg_sim_k${k} PROPERTIES
                         FIXTURES_REQUIRED vdata RESOURCE_LOCK vdata_out)
  endforeach()
  if(TARGET sfmpi-keygen)
    sf_add_test(NAME ranks_linreg_prod_k2
                COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen>
                        ${PROJECT_SOURCE_DIR}/scripts/launch-local --ranks 2 --timeout 150 3
                        $<TARGET_FILE:vertical_linreg> ${vdata} --sf-quiet
                LABELS "ranks;io;prod" EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${golden} TIMEOUT 180)
    set_tests_properties(ranks_linreg_prod_k2 PROPERTIES FIXTURES_REQUIRED vdata
                         RESOURCE_LOCK vdata_out)
  endif()
  # a missing file and a missing dataset: the failure names the file, dataset and call site
  sf_add_test(NAME ranks_h5_missing_file MODE debug
              COMMAND $<TARGET_FILE:vertical_linreg> ${CMAKE_CURRENT_BINARY_DIR}/no-such-dir
              LABELS "ranks;io" EXPECT_EXIT 3
              EXPECT_STDERR "task 'sf_h5_read' failed on party alice at call #1 \\(vertical_linreg.c:[0-9]+\\)"
                            "no-such-dir/alice.h5")
endif()

# rank count and ranks per party must agree
if(TARGET joint_stats)
  sf_add_test(NAME ranks_mismatch_sim MODE sim NPROCS 4
              COMMAND $<TARGET_FILE:joint_stats> --sf-ranks-per-party=2
              LABELS ranks EXPECT_EXIT 2
              EXPECT_STDERR "--sf-ranks-per-party=2 needs 3 x 2 = 6 ranks, but the job has 4")
  sf_add_test(NAME ranks_bad_option MODE debug COMMAND $<TARGET_FILE:joint_stats> --sf-ranks-per-party=0
              LABELS ranks EXPECT_EXIT 2 EXPECT_STDERR "bad value '0' for ranks-per-party")
endif()

# collective kernels: every sf_comm operation, identical in debug and sim with 1 and 2 ranks
add_executable(collectives ${CMAKE_CURRENT_SOURCE_DIR}/modes/collectives.c)
target_link_libraries(collectives PRIVATE sfmpi::internal)
sf_target_defaults(collectives)
set(cgold ${CMAKE_CURRENT_SOURCE_DIR}/expected/collectives.out)
foreach(k 1 2)
  sf_add_test(NAME ranks_collectives_debug_k${k} MODE debug
              COMMAND $<TARGET_FILE:collectives> --sf-quiet --sf-ranks-per-party=${k}
              LABELS ranks EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${cgold} TIMEOUT 60)
  math(EXPR np "3 * ${k}")
  sf_add_test(NAME ranks_collectives_sim_k${k} MODE sim NPROCS ${np}
              COMMAND $<TARGET_FILE:collectives> --sf-quiet --sf-ranks-per-party=${k}
              LABELS ranks EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${cgold} TIMEOUT 60)
endforeach()
# a kernel whose worker waits for a message nobody sends: a deadlock report in debug mode
sf_add_test(NAME ranks_kernel_deadlock_debug MODE debug
            COMMAND $<TARGET_FILE:collectives> deadlock --sf-ranks-per-party=2
            LABELS ranks EXPECT_EXIT 4
            EXPECT_STDERR "deadlock: every rank is blocked"
                          "bob/1 at call #[0-9]+ \\(collectives.c:[0-9]+, lonely_recv\\) waits for a message from bob/0 on the party communicator")

# the debug-mode log is the same on every run, tagged and in program order
if(TARGET actor_accumulator)
  sf_add_test(NAME debug_log_determinism
              COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/modes/log_determinism.sh $<TARGET_FILE:actor_accumulator>
              LABELS debug TIMEOUT 60)
endif()

# 120,000 ranks in one debug process (2 parties x 60,000): past 30,000 ranks the stacks come
# 256 to a mapping with a guard region per group and canaries; an allreduce and a gather
# over each party's ranks give the right values, within 8 KiB per rank (RSS). The
# million-rank run is bench_million's (bench/README.md).
if(TARGET bench_million)
  sf_add_test(NAME ranks_grouped_120k COMMAND $<TARGET_FILE:bench_million> --ranks=60000
              LABELS "ranks" EXPECT_EXIT 0 TIMEOUT 120
              EXPECT_STDOUT "^million debug: 120000 ranks \\(2 parties x 60000, stacks 16 KiB\\): .* KiB per rank \\(goal <= 8: met\\)")
endif()
