# Private operands (SF_PRIVATE; SF_PRIVATE32 in the semi2k ones) through the runtime (label spu): every configuration x every
# member as the owner x the products of a learning step, fixed point and integers, in every
# mode; the owner's traffic shows the mask is sent once. The exact count of checks is
# asserted, so a matrix that silently checks nothing fails.
add_executable(spu_private ${CMAKE_CURRENT_SOURCE_DIR}/modes/spu_private.c)
target_link_libraries(spu_private PRIVATE sfmpi::internal m)
sf_target_defaults(spu_private)
set(_sf_spu_priv_ok "^spu_private: 20957 checks passed$")
sf_add_test(NAME spu_private_debug MODE debug COMMAND $<TARGET_FILE:spu_private> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_priv_ok}" TIMEOUT 120)
sf_add_test(NAME spu_private_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_private> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_priv_ok}" TIMEOUT 120)
sf_add_test(NAME spu_private_plain_debug MODE debug COMMAND $<TARGET_FILE:spu_private> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_priv_ok}" TIMEOUT 120)
sf_add_test(NAME spu_private_plain_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_private> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_priv_ok}" TIMEOUT 120)
if(TARGET sfmpi-keygen)
  sf_add_test(NAME spu_private_prod
    COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${CMAKE_SOURCE_DIR}/scripts/launch-local
            --timeout 100 5 $<TARGET_FILE:spu_private> --sf-quiet
    LABELS prod spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_priv_ok}" TIMEOUT 120)
endif()
# Misuse: an owner outside the SPU, a private operand in an elementwise operation,
# SF_PRIVATE given to a PYU task.
sf_add_test(NAME spu_private_error_outsider MODE debug COMMAND $<TARGET_FILE:spu_private> --error=outsider
            LABELS spu EXPECT_EXIT 2
            EXPECT_STDERR "argument 0 .SF_PRIVATE. is owned by erin, which is not a member of the SPU" TIMEOUT 60)
sf_add_test(NAME spu_private_error_add MODE debug COMMAND $<TARGET_FILE:spu_private> --error=add
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "sf_spu_add: the operand is private to its owner .SF_PRIVATE.: only sf_spu_slice" TIMEOUT 60)
sf_add_test(NAME spu_private_error_add_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_private> --error=add
            LABELS spu EXPECT_EXIT 1
            EXPECT_STDOUT "spu_private: failed: SPU kernel 'k_bad' failed at call #[0-9]+ .spu_private.c:[0-9]+.: sf_spu_add: the operand is private" TIMEOUT 60)
sf_add_test(NAME spu_private_error_pyu MODE debug COMMAND $<TARGET_FILE:spu_private> --error=pyu
            LABELS spu EXPECT_EXIT 2
            EXPECT_STDERR "argument 0 is SF_PRIVATE, which only an SPU kernel takes" TIMEOUT 60)
# The 32-bit ring: refused by aby3, an element beyond it named, and an object that changes
# its ring between calls.
sf_add_test(NAME spu_private_error_aby3_32 MODE debug COMMAND $<TARGET_FILE:spu_private> --error=aby3_32
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "argument 0 .SF_PRIVATE32.: the 32-bit ring is a semi2k option and this SPU runs aby3; pass SF_PRIVATE" TIMEOUT 60)
sf_add_test(NAME spu_private_error_range32 MODE debug COMMAND $<TARGET_FILE:spu_private> --error=range32
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "argument 0 .SF_PRIVATE32.: element .7, 3. = 16777216.5 is beyond the 32-bit ring .\\|x\\| < 2\\^23." TIMEOUT 60)
sf_add_test(NAME spu_private_error_range32_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_private> --error=range32
            LABELS spu EXPECT_EXIT 1
            EXPECT_STDOUT "element .7, 3. = 16777216.5 is beyond the 32-bit ring" TIMEOUT 60)
sf_add_test(NAME spu_private_error_mix32 MODE debug COMMAND $<TARGET_FILE:spu_private> --error=mix32
            LABELS spu EXPECT_EXIT 2
            EXPECT_STDERR "argument 0 .SF_PRIVATE32. was first used as SF_PRIVATE with other parameters" TIMEOUT 60)
sf_add_test(NAME spu_private_error_aby3_32_plain MODE debug COMMAND $<TARGET_FILE:spu_private> --error=aby3_32 --sf-spu=plain
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "argument 0 .SF_PRIVATE32.: the 32-bit ring is a semi2k option and this SPU runs aby3" TIMEOUT 60)
# --sf-spu=plain checks the 32-bit ring's range (the protocols cannot see it); fixed point in
# it needs fxp_bits >= 16.
sf_add_test(NAME spu_private_error_overflow32_plain MODE debug COMMAND $<TARGET_FILE:spu_private> --error=overflow32 --sf-spu=plain
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "sf_spu_matmul: a result .or a block's sum. of a product with an SF_PRIVATE32 operand is beyond the 32-bit ring's range" TIMEOUT 60)
sf_add_test(NAME spu_private_error_fxp32 MODE debug COMMAND $<TARGET_FILE:spu_private> --error=fxp32
            LABELS spu EXPECT_EXIT 3
            EXPECT_STDERR "argument 0 .SF_PRIVATE32.: fixed point in the 32-bit ring needs fxp_bits of at least 16 .this SPU has 12" TIMEOUT 60)
