# Every example in examples/LIST runs in debug mode and in simulation mode (3 ranks);
# both must print exactly tests/expected/<example>.out on stdout and exit 0.
file(STRINGS ${CMAKE_SOURCE_DIR}/examples/LIST SF_EXAMPLE_NAMES)
foreach(ex IN LISTS SF_EXAMPLE_NAMES)
  if(NOT TARGET ${ex})
    continue() # examples not built (SF_BUILD_EXAMPLES=OFF)
  endif()
  set(golden ${CMAKE_CURRENT_SOURCE_DIR}/expected/${ex}.out)
  if(NOT EXISTS ${golden})
    message(WARNING "example ${ex} has no golden output ${golden}")
  endif()
  sf_add_test(NAME example_${ex}_debug MODE debug COMMAND $<TARGET_FILE:${ex}> --sf-quiet
    LABELS example EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${golden} TIMEOUT 60)
  sf_add_test(NAME example_${ex}_sim MODE sim NPROCS 3 COMMAND $<TARGET_FILE:${ex}> --sf-quiet
    LABELS example EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${golden} TIMEOUT 60)
endforeach()
# The SPU examples under the plaintext functional simulation print the same results.
foreach(ex millionaires secure_scoring)
  if(TARGET ${ex})
    sf_add_test(NAME example_${ex}_plain_debug MODE debug
      COMMAND $<TARGET_FILE:${ex}> --sf-quiet --sf-spu=plain LABELS example spu EXPECT_EXIT 0
      EXPECT_STDOUT_FILE ${CMAKE_CURRENT_SOURCE_DIR}/expected/${ex}.out TIMEOUT 60)
  endif()
endforeach()
