# Production-mode, handshake and HDF5 benchmarks (measurements, not tests: none is
# registered with ctest). Run them with bench/more.sh; see bench/README.md.
foreach(b bench_bridge bench_handshake bench_h5read)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${b}.c)
    add_executable(${b} ${CMAKE_CURRENT_SOURCE_DIR}/${b}.c)
    target_link_libraries(${b} PRIVATE sfmpi::internal m)
    sf_target_defaults(${b})
  endif()
endforeach()
if(TARGET bench_bridge)
  target_link_libraries(bench_bridge PRIVATE Threads::Threads)
endif()
# bench_handshake calls the bridge's Noise functions (mpi/prod/noise.h) directly.
if(TARGET bench_handshake)
  target_include_directories(bench_handshake PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(bench_handshake PRIVATE PkgConfig::SODIUM Threads::Threads)
endif()
# bench_h5read writes its file with io/h5.h and reads it back with plain HDF5 as the baseline.
if(TARGET bench_h5read)
  target_include_directories(bench_h5read PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(bench_h5read PRIVATE sfmpi_hdf5 MPI::MPI_C)
endif()
# bench_bridge's --tls-pair baseline: OpenSSL TLS 1.3 endpoints in one process (optional).
if(TARGET bench_bridge)
  find_package(OpenSSL QUIET)
  if(OpenSSL_FOUND)
    target_compile_definitions(bench_bridge PRIVATE SF_BENCH_OPENSSL)
    target_link_libraries(bench_bridge PRIVATE OpenSSL::SSL OpenSSL::Crypto)
  endif()
endif()
# bench_accept times handshakes through a real party's accept path; it uses the bridge's
# connection layer (mpi/prod/conn.h) and the cluster/key loaders directly.
add_executable(bench_accept ${CMAKE_CURRENT_SOURCE_DIR}/bench_accept.c)
target_link_libraries(bench_accept PRIVATE sfmpi::internal PkgConfig::SODIUM)
target_include_directories(bench_accept PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(bench_accept PRIVATE _GNU_SOURCE)
sf_target_defaults(bench_accept)
