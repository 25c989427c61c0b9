# Benchmarks (measurements, not tests: none is registered with ctest).
# Run them with bench/run_all.sh; see bench/README.md.
foreach(b bench_call bench_ranks bench_transfer bench_tiny)
  add_executable(${b} ${CMAKE_CURRENT_SOURCE_DIR}/${b}.c)
  target_link_libraries(${b} PRIVATE sfmpi::internal m)
  sf_target_defaults(${b})
endforeach()
# The raw MPI baseline of bench_transfer runs inside the program callback.
target_link_libraries(bench_transfer PRIVATE MPI::MPI_C)
