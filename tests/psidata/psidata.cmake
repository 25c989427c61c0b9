# The PSI data tools (tools/sfmpi-psidata, tools/sfmpi-csv2h5), label "psi": the
# generator's invariants read back through psidata_dump, and the CSV converter on good and
# bad inputs with its exact messages.
if(TARGET sfmpi-psidata)
  add_executable(psidata_dump ${CMAKE_CURRENT_SOURCE_DIR}/psidata/psidata_dump.c)
  target_link_libraries(psidata_dump PRIVATE sfmpi::internal sfmpi_hdf5)
  target_include_directories(psidata_dump PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_definitions(psidata_dump PRIVATE _GNU_SOURCE)
  sf_target_defaults(psidata_dump)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    foreach(t int64 bytes string errors)
      sf_add_test(NAME psidata_gen_${t}
        COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/psidata/test_psidata.py ${t}
          $<TARGET_FILE:sfmpi-psidata> $<TARGET_FILE:psidata_dump>
        LABELS psi TIMEOUT 120)
    endforeach()
    if(TARGET sfmpi-csv2h5)
      foreach(t good bad)
        sf_add_test(NAME psidata_csv2h5_${t}
          COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/psidata/test_csv2h5.py ${t}
            $<TARGET_FILE:sfmpi-csv2h5> $<TARGET_FILE:psidata_dump>
          LABELS psi TIMEOUT 120)
      endforeach()
    endif()
  endif()
endif()
