# Unit test of the production bridge's Noise KK handshake and AEAD frames
# (mpi/prod/noise.c, mpi/prod/frame.c, linked through the sfmpi library).
# The KK test vectors (cacophony's, copied into tests/testdata so that a clone anywhere
# runs them) are read at run time; a missing vectors file fails the test.
add_executable(test_noise ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_noise.c)
target_link_libraries(test_noise PRIVATE sfmpi::internal PkgConfig::SODIUM)
target_include_directories(test_noise PRIVATE ${PROJECT_SOURCE_DIR})
sf_target_defaults(test_noise)
sf_add_test(NAME unit_noise
  COMMAND $<TARGET_FILE:test_noise> ${PROJECT_SOURCE_DIR}/tests/testdata/noise-vectors.json
  LABELS "unit;prod" TIMEOUT 60)

# The bridge in one process: three parties' transports, each driven by its own thread, over
# loopback with real handshakes (ports chosen free at run time). scripts/test also builds
# and runs it under ThreadSanitizer.
add_executable(test_bridge ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_bridge.c)
target_link_libraries(test_bridge PRIVATE sfmpi::internal PkgConfig::SODIUM Threads::Threads)
target_include_directories(test_bridge PRIVATE ${PROJECT_SOURCE_DIR})
sf_target_defaults(test_bridge)
sf_add_test(NAME unit_bridge
  COMMAND sh -c "exec $<TARGET_FILE:test_bridge> $(${PROJECT_SOURCE_DIR}/scripts/free-ports 3)"
  LABELS "unit;bridge" TIMEOUT 60)
