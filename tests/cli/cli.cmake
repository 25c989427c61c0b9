# The command-line face: --sf-help/--sf-version, the sfmpi command and its launchers, the
# Slurm template, and shellcheck over every shell script (label "lint").
add_executable(sf_test_help_prog ${CMAKE_CURRENT_SOURCE_DIR}/cli/help_prog.c)
target_link_libraries(sf_test_help_prog PRIVATE sfmpi::sfmpi)
sf_target_defaults(sf_test_help_prog)

sf_add_test(NAME cli_help COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_help.sh
  $<TARGET_FILE:sf_test_help_prog> $<TARGET_FILE:sf_test_failures> LABELS cli TIMEOUT 60)

# The sfmpi command from the build tree (build/bin/sfmpi), as a user runs it.
foreach(c repeat failing dashdash check usage)
  set(_t 60)
  if(c STREQUAL "repeat")
    set(_t 90)
  endif()
  sf_add_test(NAME cli_sfmpi_${c} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_sfmpi.sh ${c}
    ${PROJECT_BINARY_DIR}/bin/sfmpi ${PROJECT_BINARY_DIR} LABELS cli prod TIMEOUT ${_t})
endforeach()
