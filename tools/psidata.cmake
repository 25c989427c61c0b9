# The PSI data tools (issue 11): sfmpi-psidata (ID sets with a known overlap) and
# sfmpi-csv2h5 (a CSV column to an HDF5 ID dataset), both writing through io/h5out.c (in the library).
foreach(t sfmpi-psidata sfmpi-csv2h5 sfmpi-lrdata)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
    add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c)
    target_link_libraries(${t} PRIVATE sfmpi::internal sfmpi_hdf5 PkgConfig::SODIUM m)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
    target_compile_definitions(${t} PRIVATE _GNU_SOURCE)
    sf_target_defaults(${t})
  endif()
endforeach()
