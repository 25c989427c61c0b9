# The SPU through the runtime (label spu): the same revealed bits in debug mode (the real
# protocol in one process) and simulation mode with fixed seeds, within the error bounds
# of plaintext arithmetic; misuse reported clearly.
add_executable(spu_modes ${CMAKE_CURRENT_SOURCE_DIR}/modes/spu_modes.c)
target_link_libraries(spu_modes PRIVATE sfmpi::sfmpi m)
sf_target_defaults(spu_modes)
set(sgold ${CMAKE_CURRENT_SOURCE_DIR}/expected/spu_modes.out)
sf_add_test(NAME spu_modes_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${sgold} TIMEOUT 120)
sf_add_test(NAME spu_modes_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:spu_modes> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${sgold} TIMEOUT 120)
sf_add_test(NAME spu_misuse_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> misuse
            LABELS spu EXPECT_EXIT 1
            EXPECT_STDERR "vec at spu_modes.c:[0-9]+: object #[0-9]+ is secret \\(it lives in an SPU\\); reveal it")
sf_add_test(NAME spu_aby3_two_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> aby3_two
            LABELS spu EXPECT_EXIT 2 EXPECT_STDERR "sf_spu at spu_modes.c:[0-9]+: aby3 needs exactly 3 members, not 2")
