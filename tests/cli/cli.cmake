# The command-line face: --sf-help/--sf-version, the sfmpi command and its launchers, the
# Slurm template, and shellcheck over every shell script (label "lint").
add_executable(sf_test_help_prog ${CMAKE_CURRENT_SOURCE_DIR}/cli/help_prog.c)
target_link_libraries(sf_test_help_prog PRIVATE sfmpi::sfmpi)
sf_target_defaults(sf_test_help_prog)

sf_add_test(NAME cli_help COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_help.sh
  $<TARGET_FILE:sf_test_help_prog> $<TARGET_FILE:sf_test_failures> LABELS cli TIMEOUT 60)
