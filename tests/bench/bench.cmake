# The benchmarks' machine-readable results (bench/README.md, "Result format") and bench/plot:
# tiny sizes only (a few seconds); the real sizes run through bench/run_all.sh, never here.
find_package(Python3 COMPONENTS Interpreter)
if(TARGET bench_call AND TARGET bench_tiny)
  find_program(SF_GNUPLOT gnuplot)
  if(SF_GNUPLOT AND Python3_Interpreter_FOUND)
    sf_add_test(NAME bench_results
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/bench/results_test.sh ${PROJECT_BINARY_DIR}
      LABELS bench TIMEOUT 60)
  else()
    message(STATUS "bench_results test skipped: needs gnuplot (scripts/setup installs gnuplot-nox) and python3")
  endif()
endif()
if(Python3_Interpreter_FOUND)
  sf_add_test(NAME bench_plot_malformed
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bench/plot_malformed_test.py
            ${PROJECT_SOURCE_DIR}
    LABELS bench TIMEOUT 30)
endif()
