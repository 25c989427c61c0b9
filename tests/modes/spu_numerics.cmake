# The SPU numerics and shapes through the runtime (label spu): every configuration x every
# role of the inputs' owner x every new kernel operation, against double precision, in every
# mode (the protocols in debug, sim and prod; the plaintext simulation in debug and sim).
# Each test asserts the exact number of checks, so a matrix that silently checks nothing fails.
add_executable(spu_numerics ${CMAKE_CURRENT_SOURCE_DIR}/modes/spu_numerics.c)
target_link_libraries(spu_numerics PRIVATE sfmpi::internal m)
sf_target_defaults(spu_numerics)
set(_sf_spu_num_ok "^spu_numerics: 6930 checks passed$")
sf_add_test(NAME spu_numerics_debug MODE debug COMMAND $<TARGET_FILE:spu_numerics> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_num_ok}" TIMEOUT 120)
sf_add_test(NAME spu_numerics_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_numerics> --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_num_ok}" TIMEOUT 120)
sf_add_test(NAME spu_numerics_plain_debug MODE debug COMMAND $<TARGET_FILE:spu_numerics> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_num_ok}" TIMEOUT 120)
sf_add_test(NAME spu_numerics_plain_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_numerics> --sf-spu=plain --sf-quiet
            LABELS spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_num_ok}" TIMEOUT 120)
if(TARGET sfmpi-keygen)
  sf_add_test(NAME spu_numerics_prod
    COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${CMAKE_SOURCE_DIR}/scripts/launch-local
            --timeout 100 5 $<TARGET_FILE:spu_numerics> --sf-quiet
    LABELS prod spu EXPECT_EXIT 0 EXPECT_STDOUT "${_sf_spu_num_ok}" TIMEOUT 120)
endif()
# A failing operation names itself, the shapes or the value at fault, the kernel and its
# call site, in debug and simulation mode alike.
foreach(e "broadcast|sf_spu_add: shapes .3 x 4. and .4 x 3. do not broadcast"
          "public|sf_spu_public.0.: argument 0 is an object, secret inside the SPU"
          "divzero|sf_spu_div_public: cannot divide by 0"
          "reshape|sf_spu_reshape: .3 x 4. has 12 elements, the shape .5 x 5. 25"
          "slice|sf_spu_slice: 5 from 2 is outside axis 1 of .3 x 4."
          "sigmoid|sf_spu_sigmoid: unknown sigmoid approximation 9")
  string(FIND "${e}" "|" _bar)
  string(SUBSTRING "${e}" 0 ${_bar} _name)
  math(EXPR _bar "${_bar} + 1")
  string(SUBSTRING "${e}" ${_bar} -1 _re)
  sf_add_test(NAME spu_numerics_error_${_name}_debug MODE debug COMMAND $<TARGET_FILE:spu_numerics> --error=${_name}
              LABELS spu EXPECT_EXIT 3 EXPECT_STDERR "SPU kernel 'k_err' failed at call #3 .spu_numerics.c:[0-9]+.: ${_re}"
              TIMEOUT 60)
  sf_add_test(NAME spu_numerics_error_${_name}_sim MODE sim NPROCS 5 COMMAND $<TARGET_FILE:spu_numerics> --error=${_name}
              LABELS spu EXPECT_EXIT 1 EXPECT_STDOUT "the kernel failed: SPU kernel 'k_err' failed at call #3 .spu_numerics.c:[0-9]+.: ${_re}"
              TIMEOUT 60)
endforeach()
