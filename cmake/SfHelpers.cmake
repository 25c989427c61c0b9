# Shared build settings for sfmpi targets: warnings, visibility, sanitizers.
function(sf_target_defaults tgt)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Wno-unused-parameter
    $<$<BOOL:${SF_WERROR}>:-Werror>)
  set_target_properties(${tgt} PROPERTIES C_VISIBILITY_PRESET hidden)
  if(SF_SANITIZE)
    target_compile_options(${tgt} PRIVATE -fsanitize=${SF_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${tgt} PRIVATE -fsanitize=${SF_SANITIZE})
  endif()
endfunction()

# sf_add_test(NAME n COMMAND exe args... [MODE debug|sim|prod] [NPROCS k] [LABELS ...]
#             [TIMEOUT s] [WILL_FAIL] [EXPECT_EXIT code] [EXPECT_STDERR regex...]
#             [EXPECT_STDOUT regex...] [EXPECT_STDOUT_FILE file] [MAX_SECONDS s])
# Every test goes through here: it sets the MPI launcher for sim mode (with --oversubscribe
# and yield-when-idle), a timeout, and labels. MODE prod runs NPROCS parties (default 3),
# each its own process, through scripts/launch-local on loopback. A test passes only by its
# own assertions or by tests/check_run.sh, which checks the exit code, required output
# lines and (MAX_SECONDS) the wall time.
function(sf_add_test)
  cmake_parse_arguments(T "" "NAME;MODE;NPROCS;TIMEOUT;EXPECT_EXIT;MAX_SECONDS" "COMMAND;LABELS;EXPECT_STDERR;EXPECT_STDOUT;EXPECT_STDOUT_FILE" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  set(cmd ${T_COMMAND})
  if(T_MODE STREQUAL "sim")
    if(NOT T_NPROCS)
      set(T_NPROCS 3)
    endif()
    set(cmd ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${T_NPROCS} --oversubscribe
        --mca mpi_yield_when_idle 1 ${MPIEXEC_PREFLAGS} ${T_COMMAND} --sf-mode=sim)
  elseif(T_MODE STREQUAL "debug")
    set(cmd ${T_COMMAND} --sf-mode=debug)
  elseif(T_MODE STREQUAL "prod")
    if(NOT T_NPROCS)
      set(T_NPROCS 3)
    endif()
    math(EXPR _ll_timeout "${T_TIMEOUT} - 5") # launch-local's watchdog stops every party first
    set(cmd env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${PROJECT_SOURCE_DIR}/scripts/launch-local
        --no-mpirun --timeout ${_ll_timeout} ${T_NPROCS} ${T_COMMAND})
  endif()
  if(DEFINED T_EXPECT_EXIT OR T_EXPECT_STDERR OR T_EXPECT_STDOUT OR T_EXPECT_STDOUT_FILE OR T_MAX_SECONDS)
    if(NOT DEFINED T_EXPECT_EXIT)
      set(T_EXPECT_EXIT 0)
    endif()
    set(checks)
    foreach(re IN LISTS T_EXPECT_STDERR)
      list(APPEND checks --stderr "${re}")
    endforeach()
    foreach(re IN LISTS T_EXPECT_STDOUT)
      list(APPEND checks --stdout "${re}")
    endforeach()
    if(T_EXPECT_STDOUT_FILE)
      list(APPEND checks --stdout-file ${T_EXPECT_STDOUT_FILE})
    endif()
    if(T_MAX_SECONDS)
      list(APPEND checks --max-seconds ${T_MAX_SECONDS})
    endif()
    set(cmd ${PROJECT_SOURCE_DIR}/tests/check_run.sh --exit ${T_EXPECT_EXIT} ${checks} -- ${cmd})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${cmd})
  set(labels ${T_LABELS})
  if(T_MODE)
    list(PREPEND labels ${T_MODE}) # the mode is a label too: debug, sim
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${labels}"
    ENVIRONMENT "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1")
endfunction()
