# Allreduce through the MPI party communicator vs raw MPI_Allreduce on the same
# communicator (a measurement, not a test; goal >= 0.95x at 64 MiB):
#   mpirun -np 2 bench/bench_allreduce [--reps=R] [--warmup=W]     (also -np 3)
add_executable(bench_allreduce ${CMAKE_CURRENT_SOURCE_DIR}/bench_allreduce.c)
target_link_libraries(bench_allreduce PRIVATE sfmpi::internal MPI::MPI_C)
target_include_directories(bench_allreduce PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_definitions(bench_allreduce PRIVATE _GNU_SOURCE)
sf_target_defaults(bench_allreduce)
