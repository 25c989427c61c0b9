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

# The Slurm template through stand-ins for sbatch, srun and squeue (tests/cli/slurm): a real
# two-party production run on loopback, two ranks per party.
sf_add_test(NAME cli_slurm_template COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_slurm.sh
  ${PROJECT_BINARY_DIR}/bin/sfmpi $<TARGET_FILE:sf_test_help_prog> LABELS cli prod TIMEOUT 60)

# shellcheck over every shell script of the project.
sf_add_test(NAME lint_shellcheck COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_shellcheck.sh
  LABELS lint TIMEOUT 120)

# The man page: groff's warnings are errors.
find_program(SF_GROFF groff)
if(SF_GROFF)
  sf_add_test(NAME lint_man COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_man.sh
    ${PROJECT_SOURCE_DIR}/docs/man/sfmpi.1 LABELS lint TIMEOUT 30)
endif()

# The tools component installs and the installed sfmpi works from its prefix.
sf_add_test(NAME cli_install COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/test_install.sh
  ${PROJECT_BINARY_DIR} $<TARGET_FILE:sf_test_help_prog> ${PROJECT_VERSION} LABELS cli prod TIMEOUT 60)
