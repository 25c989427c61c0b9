# The SPU through the runtime (label spu): the same revealed bits in debug mode (the real
# protocol in one process) and simulation mode with fixed seeds, within the error bounds
# of plaintext arithmetic; misuse reported clearly.
add_executable(spu_modes ${CMAKE_CURRENT_SOURCE_DIR}/modes/spu_modes.c)
target_link_libraries(spu_modes PRIVATE sfmpi::internal m)
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
# The plaintext functional simulation against the protocol's golden output: exact where
# no truncation happens, within 1 ulp per truncation (tests/spu/test_spu_plain.c checks
# the same rule on a million samples per operation at the protocol core).
sf_add_test(NAME spu_plain_debug MODE debug
            COMMAND $<TARGET_FILE:spu_modes> compare=${sgold} --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0
            EXPECT_STDOUT "^semi2k: plain vs protocol: 0 of 449 values beyond 1 ulp per truncation"
                          "^aby3: plain vs protocol: 0 of 449 values beyond 1 ulp per truncation"
                          "^semi2k: 0 results outside" "^aby3: 0 results outside" TIMEOUT 120)
sf_add_test(NAME spu_plain_sim MODE sim NPROCS 3
            COMMAND $<TARGET_FILE:spu_modes> compare=${sgold} --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0
            EXPECT_STDOUT "^semi2k: plain vs protocol: 0 of 449 values beyond 1 ulp per truncation"
                          "^aby3: plain vs protocol: 0 of 449 values beyond 1 ulp per truncation"
                          "^semi2k: 0 results outside" "^aby3: 0 results outside" TIMEOUT 120)
sf_add_test(NAME spu_plain_refused_in_prod COMMAND $<TARGET_FILE:spu_modes> --sf-mode=prod --sf-spu=plain
            LABELS spu EXPECT_EXIT 2
            EXPECT_STDERR "--sf-spu=plain \\(or SF_SPU=plain\\) is refused in production mode")
sf_add_test(NAME spu_bad_option COMMAND $<TARGET_FILE:spu_modes> --sf-spu=fast
            LABELS spu EXPECT_EXIT 2 EXPECT_STDERR "bad value 'fast' for spu \\(expected real")
# Bytes and rounds counted through the runtime (sf_spu_stats) equal the protocol formulas.
sf_add_test(NAME spu_stats_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> stats --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "^semi2k ring mul .*: ok$" "^semi2k fixed-point mul .*: ok$" "^semi2k less .*: ok$"
                          "^aby3 ring mul .*: ok$" "^aby3 fixed-point mul .*: ok$" "^aby3 less .*: ok$"
            TIMEOUT 120)
sf_add_test(NAME spu_stats_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:spu_modes> stats --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "^semi2k ring mul .*: ok$" "^semi2k fixed-point mul .*: ok$" "^semi2k less .*: ok$"
                          "^aby3 ring mul .*: ok$" "^aby3 fixed-point mul .*: ok$" "^aby3 less .*: ok$"
            TIMEOUT 120)
# Both PRGs (AES-128-CTR is the default where every CPU has AES; ChaCha20 otherwise or pinned)
sf_add_test(NAME spu_modes_chacha20_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> prg=chacha20 --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${sgold} TIMEOUT 120)
sf_add_test(NAME spu_modes_chacha20_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:spu_modes> prg=chacha20 --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${sgold} TIMEOUT 120)
sf_add_test(NAME spu_bad_prg_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> prg=rc4
            LABELS spu EXPECT_EXIT 2 EXPECT_STDERR "sf_spu at spu_modes.c:[0-9]+: unknown prg 'rc4' \\(auto, aes or chacha20\\)")
# 2^22-element operations in one call: members stream 128 messages per peer each way before
# receiving (simulation mode's flow control once deadlocked here)
sf_add_test(NAME spu_big_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:spu_modes> big --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "^big: 0 of 8388608 products and comparisons wrong$" TIMEOUT 120)
sf_add_test(NAME spu_big_debug MODE debug COMMAND $<TARGET_FILE:spu_modes> big --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "^big: 0 of 8388608 products and comparisons wrong$" TIMEOUT 120)
