# Unit test of the production bridge's Noise KK handshake and AEAD frames
# (mpi/prod/noise.c, mpi/prod/frame.c, linked through the sfmpi library).
# The KK test vectors (cacophony's, copied into tests/testdata so that a clone anywhere
# runs them) are read at run time; a missing vectors file fails the test.
add_executable(test_noise ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_noise.c)
target_link_libraries(test_noise PRIVATE sfmpi::sfmpi PkgConfig::SODIUM)
target_include_directories(test_noise PRIVATE ${PROJECT_SOURCE_DIR})
sf_target_defaults(test_noise)
sf_add_test(NAME unit_noise
  COMMAND $<TARGET_FILE:test_noise> ${PROJECT_SOURCE_DIR}/tests/testdata/noise-vectors.json
  LABELS "unit;prod" TIMEOUT 60)
