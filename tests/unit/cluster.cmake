# Unit test of the cluster file and party key files (mpi/prod/cluster.c). When the
# sfmpi-keygen tool is part of the build, the test also runs it (its only argument).
if(NOT TARGET PkgConfig::JANSSON)
  pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
endif()
add_executable(test_cluster ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_cluster.c)
target_link_libraries(test_cluster PRIVATE sfmpi::internal PkgConfig::SODIUM PkgConfig::JANSSON)
target_include_directories(test_cluster PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(test_cluster PRIVATE _GNU_SOURCE)
sf_target_defaults(test_cluster)
sf_add_test(NAME unit_cluster
            COMMAND $<TARGET_FILE:test_cluster>
                    "$<$<TARGET_EXISTS:sfmpi-keygen>:$<TARGET_FILE:sfmpi-keygen>>"
            LABELS "unit;prod" TIMEOUT 60)
