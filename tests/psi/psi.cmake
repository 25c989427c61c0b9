# Private set intersection (psi/psi.c): known overlaps at several sizes (0 and 100 % among
# them), int64 and 16-byte IDs, every output mode, 1 and 2 ranks per party, in debug, sim and
# prod; the aligned outputs checked row by row by the program; each error case with its
# message.
add_executable(psi_prog ${CMAKE_CURRENT_SOURCE_DIR}/psi/psi_prog.c)
target_link_libraries(psi_prog PRIVATE sfmpi::sfmpi)
sf_target_defaults(psi_prog)
set(_psi_cases
  # two parties in small batches (--batch): many sorted runs per spill file, merged
  "all_int64|--na 1000 --nb 800 --overlap 300 --batch 97|all, 2 parties, int64 IDs, 1000 x 800, overlap 300: size 300"
  "all_bytes|--type bytes --na 700 --nb 900 --overlap 500 --batch 64|all, 2 parties, 16-byte IDs, 700 x 900, overlap 500: size 500"
  "none|--na 500 --nb 400 --overlap 0 --batch 100|all, 2 parties, int64 IDs, 500 x 400, overlap 0: size 0"
  "full|--na 600 --nb 600 --overlap 600 --batch 50|all, 2 parties, int64 IDs, 600 x 600, overlap 600: size 600"
  "empty|--na 0 --nb 300 --overlap 0 --batch 7|all, 2 parties, int64 IDs, 0 x 300, overlap 0: size 0"
  "receiver|--out receiver --na 900 --nb 1000 --overlap 250 --batch 128|receiver, 2 parties, int64 IDs, 900 x 1000, overlap 250: size -1"
  "size|--out size --type bytes --na 800 --nb 500 --overlap 123 --batch 33|size, 2 parties, 16-byte IDs, 800 x 500, overlap 123: size 123"
  # one batch (the default size)
  "one_batch|--na 1000 --nb 1300 --overlap 420|all, 2 parties, int64 IDs, 1000 x 1300, overlap 420: size 420"
  # from files to files (sf_psi_h5); DIR is the test's own directory
  "files_all|--h5 @DIR@ --na 900 --nb 700 --overlap 333 --batch 61|files all, 2 parties, int64 IDs, 900 x 700, overlap 333: size 333"
  "files_receiver|--h5 @DIR@ --out receiver --type bytes --na 500 --nb 800 --overlap 200 --batch 90|files receiver, 2 parties, 16-byte IDs, 500 x 800, overlap 200: size -1"
  "files_size|--h5 @DIR@ --out size --na 700 --nb 700 --overlap 700 --batch 256|files size, 2 parties, int64 IDs, 700 x 700, overlap 700: size 700"
  "files_three|--h5 @DIR@ --sf-parties=alice,bob,carol --na 300 --nb 400 --nc 350 --overlap 90 --pairwise 40|files all, 3 parties, int64 IDs, 300 x 400 x 350, overlap 90: size 90"
  # three parties; alice and bob also share IDs carol lacks, which must not come out
  "three|--sf-parties=alice,bob,carol --na 900 --nb 700 --nc 800 --overlap 200 --pairwise 150|all, 3 parties, int64 IDs, 900 x 700 x 800, overlap 200: size 200"
  "three_receiver|--sf-parties=alice,bob,carol --out receiver --type bytes --na 600 --nb 700 --nc 500 --overlap 120 --pairwise 80|receiver, 3 parties, 16-byte IDs, 600 x 700 x 500, overlap 120: size -1"
  "three_size|--sf-parties=alice,bob,carol --out size --na 500 --nb 600 --nc 700 --overlap 500 --pairwise 0|size, 3 parties, int64 IDs, 500 x 600 x 700, overlap 500: size 500"
  "three_none|--sf-parties=alice,bob,carol --na 400 --nb 400 --nc 400 --overlap 0 --pairwise 300|all, 3 parties, int64 IDs, 400 x 400 x 400, overlap 0: size 0")
foreach(case IN LISTS _psi_cases)
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(GET parts 1 argstr)
  list(GET parts 2 expect)
  foreach(k 1 2)
    foreach(mode debug sim prod)
      string(REPLACE "@DIR@" "${CMAKE_CURRENT_BINARY_DIR}/psi_files/${name}_${mode}_k${k}" argk "${argstr}")
      separate_arguments(cargs UNIX_COMMAND "${argk}")
      if(mode STREQUAL "prod" AND k EQUAL 2)
        continue() # (prod with 2 ranks per party: psi_prod_ranks below, through mpirun)
      endif()
      set(parties 2)
      set(plist --sf-parties=alice,bob)
      if(name MATCHES "three")
        set(parties 3)
        set(plist) # (in the case's arguments)
      endif()
      math(EXPR np "${parties} * ${k}")
      set(extra)
      if(mode STREQUAL "prod")
        set(extra NPROCS ${parties})
      elseif(mode STREQUAL "sim")
        set(extra NPROCS ${np})
      endif()
      sf_add_test(NAME psi_${name}_${mode}_k${k} MODE ${mode} ${extra}
                  COMMAND $<TARGET_FILE:psi_prog> ${cargs} ${plist}
                          --sf-ranks-per-party=${k} --sf-quiet
                  LABELS psi TIMEOUT 120
                  EXPECT_STDOUT "^psi ${expect}, checked row by row$")
    endforeach()
  endforeach()
endforeach()
# production with two ranks per party (each party's own mpirun -np 2)
sf_add_test(NAME psi_prod_ranks
            COMMAND ${PROJECT_BINARY_DIR}/bin/sfmpi run --mode=prod --parties alice,bob
                    --ranks-per-party 2 --oversubscribe --timeout 100
                    $<TARGET_FILE:psi_prog> --na 1200 --nb 1000 --overlap 777 --sf-quiet
            LABELS psi prod TIMEOUT 120
            EXPECT_STDOUT "^psi all, 2 parties, int64 IDs, 1200 x 1000, overlap 777: size 777, checked row by row$")
# errors: each names the party and the reason
sf_add_test(NAME psi_dup MODE debug COMMAND $<TARGET_FILE:psi_prog> --dup --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "method 'psi_party.next_e' failed on party bob at call #[0-9]+ \\(psi_prog.c:[0-9]+\\): party bob: duplicated IDs in the PSI input \\(two of its rows, named in its log, hold the same ID\\)"
                          "debug bob/0.* party bob: duplicated IDs in the PSI input \\(rows [0-9]+ and [0-9]+ hold the same ID\\)")
sf_add_test(NAME psi_dup_sim MODE sim NPROCS 2 COMMAND $<TARGET_FILE:psi_prog> --dup --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party bob: duplicated IDs in the PSI input \\(rows [0-9]+ and [0-9]+ hold the same ID\\)")
sf_add_test(NAME psi_dup_batches MODE debug COMMAND $<TARGET_FILE:psi_prog> --dup --batch 10 --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party bob: duplicated IDs in the PSI input \\(rows [0-9]+ and [0-9]+ hold the same ID\\)")
# from files: a failure leaves no index file (nor a temporary one) at any party
set(_pd ${CMAKE_CURRENT_BINARY_DIR}/psi_files)
# (sim and prod: debug mode stops the run at the first failed task, before the check)
foreach(mode sim prod)
  set(extra NPROCS 2)
  sf_add_test(NAME psi_files_dup_${mode} MODE ${mode} ${extra}
              COMMAND $<TARGET_FILE:psi_prog> --h5 ${_pd}/dup_${mode} --dup --batch 50 --sf-parties=alice,bob
              LABELS psi EXPECT_EXIT 3
              EXPECT_STDERR "party bob: duplicated IDs in the PSI input \\(rows [0-9]+ and [0-9]+ hold the same ID\\)"
                            "index files left in [^ ]*dup_${mode}: 0")
endforeach()
sf_add_test(NAME psi_files_missing MODE sim NPROCS 2
            COMMAND $<TARGET_FILE:psi_prog> --h5 ${_pd}/missing --missing --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party bob: [^ ]*no_such_ids.h5"
                          "index files left in [^ ]*missing: 0")
sf_add_test(NAME psi_files_bad_type MODE sim NPROCS 2
            COMMAND $<TARGET_FILE:psi_prog> --h5 ${_pd}/bad_type --bad-type --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party alice: [^ ]*alice_ids.h5:ids: PSI takes IDs as int64 \\[n\\], uint8 \\[n, L\\] or fixed-length strings, not float64 with 1 dimension"
                          "index files left in [^ ]*bad_type: 0")
sf_add_test(NAME psi_bad_tmpdir MODE sim NPROCS 2
            COMMAND $<TARGET_FILE:psi_prog> --h5 ${_pd}/bad_tmpdir --tmpdir ${_pd}/no/such/dir --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party alice: cannot create a spill file in [^ ]*no/such/dir: No such file or directory"
                          "index files left in [^ ]*bad_tmpdir: 0")
# an index directory that does not exist: refused before any PSI work
sf_add_test(NAME psi_files_no_out_dir MODE sim NPROCS 2
            COMMAND $<TARGET_FILE:psi_prog> --h5 ${_pd}/no_out_dir --index-dir ${_pd}/no_out_dir/absent --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "task 'psi_check_index' failed on party alice at call #[0-9]+ \\(psi_prog.c:[0-9]+\\): party alice: [^ ]*absent/alice_index.h5: cannot write the index there: directory [^ ]*absent: No such file or directory"
                          "index files left in [^ ]*no_out_dir: 0")
sf_add_test(NAME psi_mismatch MODE debug COMMAND $<TARGET_FILE:psi_prog> --mismatch --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 1
            EXPECT_STDERR "the parties' IDs differ in type: alice has int64 of width 8, bob has uint8 \\[n, L\\] bytes of width 16")
sf_add_test(NAME psi_bad_type MODE debug COMMAND $<TARGET_FILE:psi_prog> --bad-type --sf-parties=alice,bob
            LABELS psi EXPECT_EXIT 3
            EXPECT_STDERR "party alice: PSI takes IDs as int64 \\[n\\] or uint8 \\[n, L\\], not float64 with 1 dimension")
# progress lines of a long PSI (thresholds shortened by the hidden knobs)
sf_add_test(NAME psi_progress MODE debug
            COMMAND env SF_PROGRESS_AFTER=0 SF_PROGRESS_EVERY=0.05 $<TARGET_FILE:psi_prog>
                    --na 3000 --nb 2000 --overlap 10 --batch 500 --sf-parties=alice,bob --sf-progress=on
            LABELS psi progress
            EXPECT_STDOUT "^psi all, 2 parties, int64 IDs, 3000 x 2000, overlap 10: size 10, checked row by row$"
            EXPECT_STDERR "^\\[debug alice/0\\] progress: PSI: hashing alice's IDs to the group and raising them: [0-9]+ of 3000 rows"
                          "^\\[debug bob/0\\] progress: PSI: raising alice's points by bob's key: done, 3000 rows in")
# examples/psi on data from sfmpi psi-data: files in, each party's index and aligned
# features out, checked against the generator's truth (every mode, 2 and 3 parties)
find_package(Python3 COMPONENTS Interpreter)
if(TARGET psi AND TARGET sfmpi-psidata AND TARGET psidata_dump AND Python3_Interpreter_FOUND)
  foreach(cfg "debug;2;1;int64" "debug;3;2;bytes:16" "sim;2;2;bytes:16" "sim;3;1;int64"
              "prod;2;1;int64" "prod;3;1;bytes:16" "debug;2;1;string:24" "sim;2;2;string:24")
    list(GET cfg 0 mode)
    list(GET cfg 1 np)
    list(GET cfg 2 k)
    list(GET cfg 3 type)
    string(REPLACE ":" "" tname "${type}")
    sf_add_test(NAME psi_example_${mode}_${np}p_k${k}_${tname}
                COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/psi/test_example.py
                        ${mode} ${np} ${k} ${type} $<TARGET_FILE:sfmpi-psidata> $<TARGET_FILE:psi>
                        $<TARGET_FILE:psidata_dump> ${PROJECT_BINARY_DIR}/bin/sfmpi
                LABELS psi ${mode} TIMEOUT 180
                EXPECT_STDOUT "^psi example, ${mode}, ${np} parties, ${k} rank\\(s\\), ${type} IDs: [0-9]+ common IDs aligned at every party, features too$")
  endforeach()
endif()
