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
# The link emulator against its own configuration (bench/linkemu_check.c): 20 Mbit/s and
# 5 ms each way, 3 MB each way (about 3 s); the round trip and both rates within 5 %.
if(TARGET linkemu AND TARGET linkemu_check)
  sf_add_test(NAME linkemu_check
    COMMAND $<TARGET_FILE:linkemu_check> --linkemu $<TARGET_FILE:linkemu> --rate 20mbit
            --delay 5ms --bytes 3000000 --pings 20 --tol 0.05 --assert
    EXPECT_STDOUT "rtt +ok" "up +ok" "down +ok" LABELS bench TIMEOUT 60)
  if(Python3_Interpreter_FOUND)
    sf_add_test(NAME linkemu_errors
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bench/linkemu_errors_test.py
              $<TARGET_FILE:linkemu>
      EXPECT_STDOUT "linkemu errors: .*: ok" LABELS bench TIMEOUT 30)
  endif()
  sf_add_test(NAME linkemu_usage
    COMMAND $<TARGET_FILE:linkemu> --pair 0:1 --rate 100mb
    EXPECT_EXIT 2 EXPECT_STDERR "--rate 100mb: expected bits per second" LABELS bench TIMEOUT 10)
  sf_add_test(NAME linkemu_no_pair
    COMMAND $<TARGET_FILE:linkemu> --delay 5ms
    EXPECT_EXIT 2 EXPECT_STDERR "no --pair LPORT:DPORT given" LABELS bench TIMEOUT 10)
endif()
# A production job over the emulated link (bench/wan.sh -> bridge.sh --link): every channel
# of the three parties goes through the relay, which reports the bytes it carried.
if(TARGET linkemu AND TARGET millionaires AND TARGET sfmpi-keygen)
  sf_add_test(NAME wan_millionaires
    COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> LINKEMU=$<TARGET_FILE:linkemu>
            ${PROJECT_SOURCE_DIR}/bench/wan.sh --link rate=20mbit,delay=5ms --timeout 50
            3 $<TARGET_FILE:millionaires>
    EXPECT_STDOUT "semi2k \\(dealer carol\\): alice is richer" "aby3: bob is not richer than alice"
    EXPECT_STDERR "every channel through linkemu --rate 20mbit --delay 5ms"
                  "linkemu: total: [0-9]+ connections, fwd [1-9][0-9]+ bytes, back [1-9][0-9]+ bytes"
    LABELS bench prod TIMEOUT 60)
endif()
