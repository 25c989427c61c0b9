# Secure logistic regression (label ml): the breast-cancer table split over three parties,
# trained in the SPU and in double precision, compared on the test rows; every
# configuration (aby3; semi2k with a feature party as the outside dealer; semi2k with a
# feature party outside the SPU) in every mode.
add_executable(lr_breast ${CMAKE_CURRENT_SOURCE_DIR}/ml/lr_breast.c)
target_link_libraries(lr_breast PRIVATE sfmpi::internal sfmpi_hdf5 m)
sf_target_defaults(lr_breast)
set(_sf_lr_data ${CMAKE_SOURCE_DIR}/tests/testdata/breast_cancer.csv)
# Each semi2k configuration also with the members' features in the 32-bit ring
# (mask_bits = 32, the suffix _ring32); a feature beyond its bound and an unbounded sigmoid
# are refused with it.
foreach(run aby3 semi2k-dealer semi2k-out semi2k-dealer_ring32 semi2k-out_ring32)
  string(REPLACE "_ring32" "" cfg ${run})
  set(_args --data=${_sf_lr_data} --config=${cfg} --sf-quiet)
  if(NOT run STREQUAL cfg)
    list(APPEND _args --mask-bits=32)
  endif()
  sf_add_test(NAME ml_lr_breast_${run}_debug MODE debug
    COMMAND $<TARGET_FILE:lr_breast> ${_args} --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_${run}_debug
    LABELS ml EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 40 checks passed" TIMEOUT 300)
  sf_add_test(NAME ml_lr_breast_${run}_sim MODE sim NPROCS 4
    COMMAND $<TARGET_FILE:lr_breast> ${_args} --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_${run}_sim
    LABELS ml EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 40 checks passed" TIMEOUT 300)
  if(TARGET sfmpi-keygen)
    sf_add_test(NAME ml_lr_breast_${run}_prod
      COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${CMAKE_SOURCE_DIR}/scripts/launch-local
              --timeout 280 4 $<TARGET_FILE:lr_breast> ${_args} --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_${run}_prod
      LABELS ml prod EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 40 checks passed" TIMEOUT 300)
  endif()
endforeach()
sf_add_test(NAME ml_lr_breast_ring32_error_bound MODE debug
  COMMAND $<TARGET_FILE:lr_breast> --data=${_sf_lr_data} --config=semi2k-out --mask-bits=32 --raw
          --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_r32_bound
  LABELS ml EXPECT_EXIT 3
  EXPECT_STDERR "alice: the feature in column 0 at row 0 is 17.99, beyond the .-16 that mask_bits = 32 takes" TIMEOUT 120)
sf_add_test(NAME ml_lr_breast_ring32_error_sigmoid MODE debug
  COMMAND $<TARGET_FILE:lr_breast> --data=${_sf_lr_data} --config=semi2k-out --mask-bits=32 --sigmoid=1
          --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_r32_sig
  LABELS ml EXPECT_EXIT 1
  EXPECT_STDERR "sf_ml_lr_fit: mask_bits = 32 needs a sigmoid bounded to .0, 1. .SEGMENTED or EXP." TIMEOUT 120)
# the other usable approximations: through exp (the most accurate) and linear (the
# cheapest); Taylor-3 is left out on purpose: it turns down beyond |z| = 2 and the training
# diverges in double precision as much as in the SPU (docs/guide.md)
foreach(sig 1 4)
  foreach(mode debug sim)
    if(mode STREQUAL "sim")
      set(_m MODE sim NPROCS 4)
    else()
      set(_m MODE debug)
    endif()
    sf_add_test(NAME ml_lr_breast_sigmoid${sig}_${mode} ${_m}
      COMMAND $<TARGET_FILE:lr_breast> --data=${_sf_lr_data} --sigmoid=${sig} --sf-quiet
              --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_sig${sig}_${mode}
      LABELS ml EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 120 checks passed" TIMEOUT 300)
  endforeach()
endforeach()
# the plaintext functional simulation runs the same program (with the 32-bit ring: it also
# checks that no product leaves the ring's range)
sf_add_test(NAME ml_lr_breast_plain_ring32_debug MODE debug
  COMMAND $<TARGET_FILE:lr_breast> --data=${_sf_lr_data} --config=semi2k-dealer --mask-bits=32 --sf-spu=plain --sf-quiet
          --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_plain_r32
  LABELS ml EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 40 checks passed" TIMEOUT 300)
# the plaintext functional simulation runs the same program
sf_add_test(NAME ml_lr_breast_plain_debug MODE debug
  COMMAND $<TARGET_FILE:lr_breast> --data=${_sf_lr_data} --sf-spu=plain --sf-quiet --dir=${CMAKE_CURRENT_BINARY_DIR}/ml_plain
  LABELS ml EXPECT_EXIT 0 EXPECT_STDOUT "lr_breast: 120 checks passed" TIMEOUT 300)
# examples/vertical_lr (PSI, training, scoring) on the breast-cancer table dealt to three
# parties by sfmpi lr-data (shuffled, each with extra rows of its own): the same output in
# debug, sim and prod, aby3 and semi2k (the third party dealing), as tests/expected says.
if(TARGET vertical_lr AND TARGET sfmpi-lrdata)
  set(_vd ${CMAKE_CURRENT_BINARY_DIR}/vertical_lr_data)
  add_test(NAME ml_vertical_lr_data COMMAND $<TARGET_FILE:sfmpi-lrdata> --out ${_vd} --csv ${_sf_lr_data}
           --parties alice,bob,carol)
  set_tests_properties(ml_vertical_lr_data PROPERTIES FIXTURES_SETUP vertical_lr_data LABELS ml TIMEOUT 60)
  foreach(proto aby3 semi2k)
    set(_a ${_vd} --protocol=${proto} --sf-quiet)
    set(_exp ${CMAKE_SOURCE_DIR}/tests/expected/vertical_lr_${proto}.out)
    sf_add_test(NAME example_vertical_lr_${proto}_debug MODE debug
      COMMAND $<TARGET_FILE:vertical_lr> ${_a} ${CMAKE_CURRENT_BINARY_DIR}/vlr_${proto}_debug --sf-parties=alice,bob,carol
      LABELS ml example EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${_exp} TIMEOUT 120)
    sf_add_test(NAME example_vertical_lr_${proto}_sim MODE sim NPROCS 3
      COMMAND $<TARGET_FILE:vertical_lr> ${_a} ${CMAKE_CURRENT_BINARY_DIR}/vlr_${proto}_sim --sf-parties=alice,bob,carol
      LABELS ml example EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${_exp} TIMEOUT 120)
    set(_t example_vertical_lr_${proto}_debug example_vertical_lr_${proto}_sim)
    if(TARGET sfmpi-keygen)
      sf_add_test(NAME example_vertical_lr_${proto}_prod
        COMMAND env SFMPI_KEYGEN=$<TARGET_FILE:sfmpi-keygen> ${CMAKE_SOURCE_DIR}/scripts/launch-local
                --timeout 110 --parties alice,bob,carol 3 $<TARGET_FILE:vertical_lr> ${_a}
                ${CMAKE_CURRENT_BINARY_DIR}/vlr_${proto}_prod
        LABELS ml example prod EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${_exp} TIMEOUT 120)
      list(APPEND _t example_vertical_lr_${proto}_prod)
    endif()
    set_tests_properties(${_t} PROPERTIES FIXTURES_REQUIRED vertical_lr_data)
  endforeach()
endif()
