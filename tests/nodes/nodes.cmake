# Several nodes on one machine (label "nodes"): network namespaces as hosts on a private
# bridge; simulation mode spread over two hosts by Open MPI's launcher and production with
# every party's job in its own namespace, both printing what debug mode prints. Skipped
# (exit 77) where namespaces are not permitted; RUN_SERIAL: it makes kernel objects and
# runs 6 + 6 ranks.
if(TARGET vertical_linreg AND TARGET sfmpi-gendata AND TARGET sfmpi-keygen)
  add_test(NAME nodes COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/nodes/nodes.sh ${PROJECT_BINARY_DIR}
                              ${PROJECT_SOURCE_DIR})
  set_tests_properties(nodes PROPERTIES LABELS "nodes;sim;prod" SKIP_RETURN_CODE 77 TIMEOUT 300
                       RUN_SERIAL TRUE)
endif()
