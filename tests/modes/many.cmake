# Many parties (label "many"): devices by index and by name, argument lists sized at run
# time (sf_remotev) on a device and on an actor. Debug mode with 600 parties, in lockstep
# and with --sf-turn=8 and 1000 (ranks far apart: many shared records in flight);
# simulation with 4 parties; production with 3 party processes.
add_executable(sf_test_many ${CMAKE_CURRENT_SOURCE_DIR}/modes/many.c)
target_link_libraries(sf_test_many PRIVATE sfmpi::internal)
sf_target_defaults(sf_test_many)
sf_add_test(NAME many_debug_600 MODE debug COMMAND $<TARGET_FILE:sf_test_many> --n=600 --sf-quiet
            LABELS many EXPECT_EXIT 0 TIMEOUT 120
            EXPECT_STDOUT "^many: 600 parties, 600 results read by each, sum of all 539700, actor sum 1275 of 50 items$")
sf_add_test(NAME many_debug_600_turn8 MODE debug
            COMMAND $<TARGET_FILE:sf_test_many> --n=600 --sf-quiet --sf-turn=8
            LABELS many EXPECT_EXIT 0 TIMEOUT 120
            EXPECT_STDOUT "^many: 600 parties, 600 results read by each, sum of all 539700, actor sum 1275 of 50 items$")
sf_add_test(NAME many_debug_600_turn1000 MODE debug
            COMMAND $<TARGET_FILE:sf_test_many> --n=600 --sf-quiet --sf-turn=1000
            LABELS many EXPECT_EXIT 0 TIMEOUT 120
            EXPECT_STDOUT "^many: 600 parties, 600 results read by each, sum of all 539700, actor sum 1275 of 50 items$")
sf_add_test(NAME many_sim_4 MODE sim NPROCS 4 COMMAND $<TARGET_FILE:sf_test_many> --n=4 --sf-quiet
            LABELS "many;sim" EXPECT_EXIT 0 TIMEOUT 60
            EXPECT_STDOUT "^many: 4 parties, 4 results read by each, sum of all 22, actor sum 10 of 4 items$")
if(TARGET sfmpi-keygen)
  sf_add_test(NAME many_prod_3 MODE prod COMMAND $<TARGET_FILE:sf_test_many> --sf-quiet
              LABELS "many;prod" EXPECT_EXIT 0 TIMEOUT 90
              EXPECT_STDOUT "^many: 3 parties, 3 results read by each, sum of all 12, actor sum 6 of 3 items$")
endif()
# a bad --sf-turn is named
sf_add_test(NAME many_bad_turn MODE debug COMMAND $<TARGET_FILE:sf_test_many> --n=3 --sf-turn=0
            LABELS many EXPECT_EXIT 2
            EXPECT_STDERR "^sfmpi: error: command line option --sf-turn=0: bad value '0' for turn \\(expected an integer 1..1000000\\)$")
# parties x ranks per party beyond what one run holds is named (no int overflow)
sf_add_test(NAME many_too_many_ranks MODE debug
            COMMAND $<TARGET_FILE:sf_test_many> --n=100 --sf-ranks-per-party=1000000
            LABELS many EXPECT_EXIT 2
            EXPECT_STDERR "^sfmpi: error: 100 parties x 1000000 ranks per party \\(--sf-ranks-per-party\\) = 100000000 ranks: more than the 67108864 one run can hold$")
