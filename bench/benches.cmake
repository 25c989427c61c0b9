# Benchmarks (measurements, not tests: none is registered with ctest).
# Run them with bench/run_all.sh; see bench/README.md.
foreach(b bench_call bench_ranks bench_many bench_million bench_transfer bench_tiny)
  add_executable(${b} ${CMAKE_CURRENT_SOURCE_DIR}/${b}.c)
  target_link_libraries(${b} PRIVATE sfmpi::internal m)
  sf_target_defaults(${b})
endforeach()
# The raw MPI baseline of bench_transfer runs inside the program callback.
target_link_libraries(bench_transfer PRIVATE MPI::MPI_C)
# bench_psi: two-party PSI against its compute floor (libsodium for the floor's own loop)
add_executable(bench_psi ${CMAKE_CURRENT_SOURCE_DIR}/bench_psi.c)
target_link_libraries(bench_psi PRIVATE sfmpi::internal PkgConfig::SODIUM m)
sf_target_defaults(bench_psi)
# bench_mpi_layout: raw MPI only (the sim transport's two-message layout against one
# message of a two-block datatype)
add_executable(bench_mpi_layout ${CMAKE_CURRENT_SOURCE_DIR}/bench_mpi_layout.c)
target_link_libraries(bench_mpi_layout PRIVATE MPI::MPI_C)
sf_target_defaults(bench_mpi_layout)
