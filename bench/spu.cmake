# SPU protocol core benchmark (a measurement, not a test): bench_spu runs the members and
# the dealer as threads over the in-memory net of tests/spu/spu_harness.c.
# Run: bench_spu [--runs=R] [--calls=C] [--n=N] [--mm=D] [--only=fxp|less|mm] [--aby3=0|1]
include(${PROJECT_SOURCE_DIR}/tests/spu/harness.cmake)
add_executable(bench_spu ${CMAKE_CURRENT_SOURCE_DIR}/bench_spu.c)
target_compile_definitions(bench_spu PRIVATE _GNU_SOURCE)
target_link_libraries(bench_spu PRIVATE sfmpi_spu_harness sfmpi_spu)
sf_target_defaults(bench_spu)
# The same operations through the runtime (SF_REMOTE on an SPU device) in debug or
# simulation mode; bench/spu_rt.sh runs every configuration.
# Run: mpirun -np 3 bench_spu_rt --sf-mode=sim --split-mul=2 [--n=N] [--mm=D] [--reps=R] [--aby3=1]
add_executable(bench_spu_rt ${CMAKE_CURRENT_SOURCE_DIR}/bench_spu_rt.c)
target_link_libraries(bench_spu_rt PRIVATE sfmpi::internal m)
sf_target_defaults(bench_spu_rt)
# The numerics (exp, reciprocal, division, sigmoids, shapes, private products) through the
# runtime beside the same functions in double precision.
# Run: mpirun -np 3 bench_spu_math --sf-mode=sim --sf-parties=alice,bob,carol [--n=N] [--rows=M --k=K]
add_executable(bench_spu_math ${CMAKE_CURRENT_SOURCE_DIR}/bench_spu_math.c)
target_link_libraries(bench_spu_math PRIVATE sfmpi::internal m)
sf_target_defaults(bench_spu_math)
# Secure logistic regression per epoch (time, bytes against the formula, rounds) beside
# the same training in double precision.
# Run: sfmpi run --mode=prod --parties alice,bob,carol,dave bench_sslr --rows=100000 --k=100
add_executable(bench_sslr ${CMAKE_CURRENT_SOURCE_DIR}/bench_sslr.c)
target_link_libraries(bench_sslr PRIVATE sfmpi::internal m)
sf_target_defaults(bench_sslr)
