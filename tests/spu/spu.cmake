# SPU protocol core tests (label spu): plain C, every party a thread over the in-memory
# net of spu_harness.c. CMAKE_CURRENT_SOURCE_DIR is tests/.
include(${CMAKE_CURRENT_SOURCE_DIR}/spu/harness.cmake)
foreach(t pure basic cmp fxp plain math priv priv32)
  add_executable(test_spu_${t} ${CMAKE_CURRENT_SOURCE_DIR}/spu/test_spu_${t}.c)
  target_compile_definitions(test_spu_${t} PRIVATE _GNU_SOURCE)
  target_link_libraries(test_spu_${t} PRIVATE sfmpi_spu_harness sfmpi_spu m)
  sf_target_defaults(test_spu_${t})
  sf_add_test(NAME spu_${t} COMMAND $<TARGET_FILE:test_spu_${t}> LABELS spu TIMEOUT 300)
endforeach()
# the portable matmul kernel (the default one is AVX-512 where the CPU has it)
sf_add_test(NAME spu_basic_generic_gemm COMMAND $<TARGET_FILE:test_spu_basic> --generic-gemm
  LABELS spu TIMEOUT 300)
# the protocols again with AES-128-CTR streams (SF_SPU_PRG_AES128) instead of ChaCha20
foreach(t basic cmp fxp plain)
  sf_add_test(NAME spu_${t}_aes COMMAND $<TARGET_FILE:test_spu_${t}> LABELS spu TIMEOUT 300)
  set_property(TEST spu_${t}_aes APPEND PROPERTY ENVIRONMENT SF_SPU_TEST_PRG=aes)
endforeach()
# the protocols again over a net that lends its buffers (the runtime's zero-copy hooks:
# recv_view, send_alloc/send_held), checking that every lent buffer is released and none
# is written after it was sent
foreach(t basic fxp plain)
  sf_add_test(NAME spu_${t}_zerocopy COMMAND $<TARGET_FILE:test_spu_${t}> LABELS spu TIMEOUT 300)
  set_property(TEST spu_${t}_zerocopy APPEND PROPERTY ENVIRONMENT SF_SPU_TEST_ZC=1)
endforeach()
