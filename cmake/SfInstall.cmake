# Install rules: the libraries (static and shared), the header, the CMake package
# (sfmpiConfig.cmake, with find_dependency for MPI, HDF5, libsodium, jansson) and the
# pkg-config files (sfmpi.pc: the shared library; sfmpi-static.pc: the static one with
# its private dependencies). Tools, launchers, docs and man pages install from their own
# folders.
include(CMakePackageConfigHelpers)
set(SF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sfmpi)

install(TARGETS sfmpi_static sfmpi_shared EXPORT sfmpiTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/sfmpi/sf.h ${PROJECT_SOURCE_DIR}/include/sfmpi/psi.h
  ${PROJECT_SOURCE_DIR}/include/sfmpi/ml.h
  ${PROJECT_BINARY_DIR}/include/sfmpi/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sfmpi)
install(EXPORT sfmpiTargets NAMESPACE sfmpi:: DESTINATION ${SF_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/sfmpiConfig.cmake.in
  ${PROJECT_BINARY_DIR}/sfmpiConfig.cmake INSTALL_DESTINATION ${SF_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sfmpiConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sfmpiConfig.cmake ${PROJECT_BINARY_DIR}/sfmpiConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/SfDependencies.cmake DESTINATION ${SF_CMAKE_DIR})

# pkg-config: the private libraries of the static library, from what CMake found
set(SF_PC_REQUIRES_PRIVATE "libsodium jansson")
set(SF_PC_LIBS_PRIVATE "")
if(SF_HDF5_PC_FOUND)
  string(APPEND SF_PC_REQUIRES_PRIVATE " hdf5-openmpi")
else()
  foreach(l IN LISTS HDF5_C_LIBRARIES)
    string(APPEND SF_PC_LIBS_PRIVATE " ${l}")
  endforeach()
endif()
foreach(l IN LISTS MPI_C_LIBRARIES)
  string(APPEND SF_PC_LIBS_PRIVATE " ${l}")
endforeach()
string(APPEND SF_PC_LIBS_PRIVATE " -pthread ${CMAKE_DL_LIBS} -lm")
string(REPLACE ";" " " SF_PC_LIBS_PRIVATE "${SF_PC_LIBS_PRIVATE}")
if(CMAKE_DL_LIBS)
  string(REPLACE " dl " " -ldl " SF_PC_LIBS_PRIVATE "${SF_PC_LIBS_PRIVATE}")
endif()
# relocatable: the prefix is found from the .pc file's own place (cmake --install --prefix)
file(RELATIVE_PATH SF_PC_UP /sfmpi-root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /sfmpi-root)
foreach(pc sfmpi sfmpi-static)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
