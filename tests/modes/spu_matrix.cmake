# The SPU role matrix (label spu): every SPU configuration (semi2k with a member dealer, an
# outside dealer, the default dealer; aby3) x every role of the inputs' owner (member,
# dealer inside or outside the SPU, outsider) x both ways in (straight to a kernel,
# sf_to(obj, spu) first) x every SPU operation x every reveal target (a member, the dealer,
# an outsider, sf_get), against plaintext arithmetic, with five parties in every mode:
# the protocols in debug, simulation and production mode, and the plaintext simulation
# (--sf-spu=plain) in debug and simulation mode. Each test asserts the exact number of
# checks, so a matrix that silently checks nothing fails.
add_executable(spu_matrix ${CMAKE_CURRENT_SOURCE_DIR}/modes/spu_matrix.c)
target_link_libraries(spu_matrix PRIVATE sfmpi::internal m)
sf_target_defaults(spu_matrix)
# 84 (configuration, owner, way, reveal target) cases x 139 checks (29 results: dtype and
# shape, then 110 elements) + 4 configurations x 5 parties' traffic = 11696.
set(_sf_spu_matrix_ok "^spu_matrix: 11696 checks passed$")
sf_add_test(NAME spu_matrix_debug MODE debug COMMAND $<TARGET_FILE:spu_matrix> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_matrix_ok}" TIMEOUT 120)
sf_add_test(NAME spu_matrix_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_matrix> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_matrix_ok}" TIMEOUT 120)
sf_add_test(NAME spu_matrix_plain_debug MODE debug COMMAND $<TARGET_FILE:spu_matrix> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_matrix_ok}" TIMEOUT 120)
sf_add_test(NAME spu_matrix_plain_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_matrix> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_matrix_ok}" TIMEOUT 120)
if(TARGET sfmpi-keygen)
  sf_add_test(NAME spu_matrix_prod
    COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${CMAKE_SOURCE_DIR}/scripts/launch-local
            --timeout 100 5 $<TARGET_FILE:spu_matrix> --sf-quiet
    LABELS prod spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_matrix_ok}" TIMEOUT 120)
endif()
