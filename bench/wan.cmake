# The link emulator (bench/linkemu.c), its self-check and the PSI floor (bench/README.md,
# "Link emulator" and "PSI floor").
add_executable(linkemu ${CMAKE_CURRENT_SOURCE_DIR}/linkemu.c)
target_link_libraries(linkemu PRIVATE m)
sf_target_defaults(linkemu)
add_executable(linkemu_check ${CMAKE_CURRENT_SOURCE_DIR}/linkemu_check.c)
target_link_libraries(linkemu_check PRIVATE m Threads::Threads)
sf_target_defaults(linkemu_check)
# The PSI floor: hash-to-group and scalar multiplication on one core (libsodium directly).
add_executable(bench_psi_floor ${CMAKE_CURRENT_SOURCE_DIR}/bench_psi_floor.c)
target_link_libraries(bench_psi_floor PRIVATE PkgConfig::SODIUM m)
sf_target_defaults(bench_psi_floor)
