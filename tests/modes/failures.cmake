# One test per failure behaviour (label "fail"). tests/modes/failures.c runs the scenario
# named by its first argument; each test pins the exit code (SF_EXIT_*) and the substance
# of the report: party names, call numbers, object ids, function names and the file:line
# of the call sites. Lines are looked up from the /*@marker*/ comments in failures.c, so
# editing that file does not break the tests (cmake re-runs when it changes).
set(_sf_fail_src ${CMAKE_CURRENT_SOURCE_DIR}/modes/failures.c)
add_executable(sf_test_failures ${_sf_fail_src})
target_link_libraries(sf_test_failures PRIVATE sfmpi::internal)
sf_target_defaults(sf_test_failures)

set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_sf_fail_src})
file(READ ${_sf_fail_src} _sf_fail_text)
# Sets L_<marker> to the line of the comment /*@<marker>*/ in failures.c.
foreach(m task_fail task_dep dl_alice dl_bob dl_get dm_bob dm_other dw_bob dw_alice
        cr_segv cr_abort cr_exit cr_fpe cr_far
        kill_new kill_kill kill_call kt_first kt_second pyu_dave er_make er_wait aw_call
        rel_use tc_get pr_ret mf_name mf_fn rc_fail pyu_at cr_dense)
  string(FIND "${_sf_fail_text}" "/*@${m}*/" _pos)
  if(_pos LESS 0)
    message(FATAL_ERROR "failures.cmake: marker /*@${m}*/ not found in ${_sf_fail_src}")
  endif()
  string(SUBSTRING "${_sf_fail_text}" 0 ${_pos} _head)
  string(REGEX REPLACE "[^\n]" "" _nl "${_head}")
  string(LENGTH "${_nl}" _n)
  math(EXPR L_${m} "${_n} + 1")
endforeach()
set(F "failures\\.c")

# sf_fail_test(<scenario-test-name> MODES debug|sim|prod... EXIT code [NPROCS n]
#              [MAX_SECONDS s] ARGS args... EXPECT regex...): test fail_<name>_<mode> per
# mode; @MODE@ in a regex becomes the mode's tag name ("debug", "sim" or "prod").
# Production runs the three parties as separate processes (scripts/launch-local).
function(sf_fail_test name)
  cmake_parse_arguments(T "" "EXIT;NPROCS;MAX_SECONDS" "MODES;ARGS;EXPECT" ${ARGN})
  foreach(mode IN LISTS T_MODES)
    set(res)
    foreach(re IN LISTS T_EXPECT)
      string(REPLACE "@MODE@" "${mode}" re "${re}")
      list(APPEND res "${re}")
    endforeach()
    set(np)
    if(T_NPROCS)
      set(np NPROCS ${T_NPROCS})
    endif()
    set(ms)
    if(T_MAX_SECONDS)
      set(ms MAX_SECONDS ${T_MAX_SECONDS})
    endif()
    set(lab fail)
    if(mode STREQUAL "prod")
      list(APPEND lab prod)
    endif()
    sf_add_test(NAME fail_${name}_${mode} MODE ${mode} ${np} ${ms}
      COMMAND $<TARGET_FILE:sf_test_failures> ${T_ARGS}
      LABELS ${lab} TIMEOUT 30 EXPECT_EXIT ${T_EXIT} EXPECT_STDERR ${res})
  endforeach()
endfunction()

# Control: the scenario program itself works in both modes.
sf_fail_test(control_ok MODES debug sim prod EXIT 0 ARGS ok)

# 1. Task error. Debug stops at the first failure; sim carries the failure as a value:
#    sf_get of the dependent object returns SF_ETASK with the chain of both tasks.
set(_fail_first "task 'fail_task' failed on party alice at call #1 \\(${F}:${L_task_fail}\\): bad input 7")
sf_fail_test(task MODES debug EXIT 3 ARGS task EXPECT
  "\\[debug alice/0 #1\\] error: stopping at the first failure:"
  "${_fail_first}")
sf_fail_test(task MODES sim prod EXIT 3 ARGS task EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #3\\] the program returned -4 \\(SF_ETASK\\):"
  "task 'use_value' on party bob at call #2 \\(${F}:${L_task_dep}\\) was not run: its argument 0 \\(object #1\\) failed:"
  "${_fail_first}")

# 2. Deadlock: alice waits for bob's object, bob for alice's (a branch on private data).
#    Debug mode sees every rank blocked and names the first differing call: a divergence,
#    exit 5 as in the other modes.
sf_fail_test(deadlock MODES debug EXIT 5 ARGS deadlock EXPECT
  "error: deadlock: every rank is blocked \\(3 blocked, 0 finished, 3 ranks\\)"
  "alice/0 at call #3 \\(${F}:${L_dl_alice}, use_value\\) waits for object #2 from bob/0$"
  "bob/0 at call #3 \\(${F}:${L_dl_bob}, use_value\\) waits for object #1 from alice/0$"
  "carol/0 at call #4 \\(${F}:${L_dl_get}, sf_get\\) waits for object #3 from alice/0$"
  "wait-for cycle: alice/0 -> bob/0 -> alice/0$"
  "cause: the parties' programs differ from call #3 on: alice/0 made \\(${F}:${L_dl_alice}, use_value\\), bob/0 made \\(${F}:${L_dl_bob}, use_value\\)")
#    In sim and prod the same program is a divergence found by wait notices (either party
#    reports; in prod the others stop too, naming it). Prod with the default 2 s wait.
sf_fail_test(deadlock MODES sim EXIT 5 ARGS deadlock --sf-wait-timeout=0.2 EXPECT
  "\\[sim (alice|bob)/0 #3\\] error: program divergence between parties (alice and bob: at call #3, alice made use_value \\(${F}:${L_dl_alice}\\) but bob made a different call \\(${F}:${L_dl_bob}\\) and now waits there for object #1 from alice|bob and alice: at call #3, bob made use_value \\(${F}:${L_dl_bob}\\) but alice made a different call \\(${F}:${L_dl_alice}\\) and now waits there for object #2 from bob)")
sf_fail_test(deadlock MODES prod EXIT 5 MAX_SECONDS 5 ARGS deadlock EXPECT
  "\\[prod (alice|bob)/0 #3\\] error: program divergence between parties (alice and bob: at call #3, alice made use_value \\(${F}:${L_dl_alice}\\) but bob made a different call \\(${F}:${L_dl_bob}\\) and now waits there for object #1 from alice|bob and alice: at call #3, bob made use_value \\(${F}:${L_dl_bob}\\) but alice made a different call \\(${F}:${L_dl_alice}\\) and now waits there for object #2 from bob)"
  "\\[prod carol\\] error: party (alice|bob) stopped the run \\(exit 5\\): \\[prod (alice|bob)/0 #3\\] program divergence between parties")

# 3. Divergence. a) A message crosses with the wrong object id.
sf_fail_test(diverge_msg MODES debug sim prod EXIT 5 ARGS diverge_msg EXPECT
  "\\[@MODE@ bob/0 #3\\] error: program divergence between parties bob and alice: bob, at call #3 \\(${F}:${L_dm_bob}, use_value\\), expects object #2 from alice, but alice sent object #1 at its call #3 \\(${F}:${L_dm_other}\\) - a different object or call")
#    b) No message in flight: found through wait notices after --sf-wait-timeout.
#       (mpirun propagates MPI_Abort's error code: exit 5.)
sf_fail_test(diverge_wait MODES sim EXIT 5 ARGS diverge_wait --sf-wait-timeout=0.2 EXPECT
  "\\[sim bob/0 #4\\] error: program divergence between parties bob and alice: at call #3, bob made make_value \\(${F}:${L_dw_bob}\\) but alice made a different call \\(${F}:${L_dw_alice}\\) and now waits there for object #2 from bob")
#       Production: within 5 s with the default wait; every party stops with exit 5.
sf_fail_test(diverge_wait MODES prod EXIT 5 MAX_SECONDS 5 ARGS diverge_wait EXPECT
  "\\[prod bob/0 #4\\] error: program divergence between parties bob and alice: at call #3, bob made make_value \\(${F}:${L_dw_bob}\\) but alice made a different call \\(${F}:${L_dw_alice}\\) and now waits there for object #2 from bob"
  "\\[prod alice\\] error: party (bob|carol) stopped the run \\(exit 5\\): \\[prod bob/0 #4\\] program divergence"
  "\\[prod carol\\] error: party (alice|bob) stopped the run \\(exit 5\\): \\[prod bob/0 #4\\] program divergence")
#       Debug mode sees it at once: every rank blocked, the first differing call named.
sf_fail_test(diverge_wait MODES debug EXIT 5 ARGS diverge_wait EXPECT
  "cause: the parties' programs differ from call #3 on: alice/0 made \\(${F}:${L_dw_alice}, use_value\\), bob/0 made \\(${F}:${L_dw_bob}, make_value\\)")

# 4. Killed actor: a method called after sf_kill; sf_kill twice returns SF_EKILLED.
set(_killed "method 'Counter.add' called at call #3 \\(${F}:${L_kill_call}\\) on actor Counter #1 \\(created at ${F}:${L_kill_new}\\), which was killed at ${F}:${L_kill_kill}$")
sf_fail_test(killed MODES debug EXIT 3 ARGS killed EXPECT
  "\\[debug alice/0 #3\\] error: stopping at the first failure:" "${_killed}")
sf_fail_test(killed MODES sim prod EXIT 3 ARGS killed EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #4\\] the program returned -4 \\(SF_ETASK\\):" "${_killed}")
sf_fail_test(kill_twice MODES debug sim prod EXIT 3 ARGS kill_twice EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #3\\] the program returned -8 \\(SF_EKILLED\\):"
  "sf_kill at ${F}:${L_kt_second}: actor Counter #1 was already killed at ${F}:${L_kt_first}$")

# 5. Unknown party.
sf_fail_test(unknown_party MODES debug sim prod EXIT 2 ARGS unknown_party EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #0\\] error: sf_pyu at ${F}:${L_pyu_dave}: unknown party 'dave' \\(the parties are: alice, bob, carol\\)")

#    c) A failing method is named by its method name whether it was called by function
#       (SF_REMOTE) or by name (sf_actor_call).
sf_fail_test(method_fail_fn MODES debug EXIT 3 ARGS method_fail fn EXPECT
  "\\[debug alice/0 #2\\] error: stopping at the first failure:"
  "method 'Counter.refuse' failed on party alice at call #2 \\(${F}:${L_mf_fn}\\): counter refused 5")
sf_fail_test(method_fail_name MODES debug EXIT 3 ARGS method_fail name EXPECT
  "\\[debug alice/0 #2\\] error: stopping at the first failure:"
  "method 'Counter.refuse' failed on party alice at call #2 \\(${F}:${L_mf_name}\\): counter refused 5")
sf_fail_test(method_fail_fn MODES sim prod EXIT 3 ARGS method_fail fn EXPECT
  "method 'Counter.refuse' failed on party alice at call #2 \\(${F}:${L_mf_fn}\\): counter refused 5")

# 4c. The program's own error handling: debug mode stops at the first failure by default;
#     with --sf-on-error=continue it carries the failure as a value, as sim and prod do,
#     and the program recovers and ends with 0.
sf_fail_test(recover_stop MODES debug EXIT 3 ARGS recover EXPECT
  "\\[debug alice/0 #1\\] error: stopping at the first failure:"
  "task 'fail_task' failed on party alice at call #1 \\(${F}:${L_rc_fail}\\): bad input 9")
sf_fail_test(recover MODES debug EXIT 0 ARGS recover --sf-on-error=continue EXPECT
  "\\[debug (alice|bob|carol)/0 #2\\] recovered from: task 'fail_task' failed on party alice at call #1 \\(${F}:${L_rc_fail}\\): bad input 9"
  "\\[debug carol/0 #5\\] then computed 12")
sf_fail_test(recover MODES sim prod EXIT 0 ARGS recover EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #2\\] recovered from: task 'fail_task' failed on party alice at call #1")
sf_fail_test(bad_on_error MODES debug EXIT 2 ARGS ok --sf-on-error=maybe EXPECT
  "^sfmpi: error: command line option --sf-on-error=maybe: bad value 'maybe' for on-error \\(expected stop or continue\\)$")

# 5b. A party index out of range.
sf_fail_test(pyu_index MODES debug sim prod EXIT 2 ARGS pyu_index EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #0\\] error: sf_pyu_at at ${F}:${L_pyu_at}: no party number 3 \\(the run has 3: 0 to 2\\)")

# 6. Bad options (the program never runs).
sf_fail_test(bad_mode MODES debug sim EXIT 2 ARGS ok --sf-mode=foo EXPECT
  "^sfmpi: error: command line option --sf-mode=foo: bad value 'foo' for mode \\(expected debug, sim or prod\\)$")
sf_fail_test(bad_option MODES debug sim EXIT 2 ARGS ok --sf-bogus=1 EXPECT
  "^sfmpi: error: command line option --sf-bogus=1: unknown option --sf-bogus \\(known: --sf-mode, ")

# 7. Wrong rank count.
sf_fail_test(rank_count MODES sim NPROCS 2 EXIT 2 ARGS ok EXPECT
  "^sfmpi: error: simulation mode needs one rank per party: 3 parties, but the job has 2 ranks \\(run mpirun -np 3 ")

# 8. Stack overflow in a task (bob's coroutine).
sf_fail_test(stack MODES debug EXIT 7 ARGS stack --sf-stack-size=64k EXPECT
  "\\[debug bob/0\\] error: stack overflow in rank bob/0 in task 'recurse' called at ${F}:[0-9]+ \\(coroutine stack 64 KiB\\); raise it with --sf-stack-size")

# 8b. A task that crashes or calls exit(): every mode names the rank, the call and the task
#     from the crashing process, before the default action (exit 128 + signal, or the
#     exit status); in production the surviving parties name the crashed one at once.
#     (Not under sanitizers: UBSan stops at the NULL load and the division first, and
#     LeakSanitizer reports what an exit() in the middle of a run leaves.)
if(NOT SF_SANITIZE)
foreach(c segv:SIGSEGV:139 abort:SIGABRT:134 fpe:SIGFPE:136 exit:exit:42)
  string(REPLACE ":" ";" c "${c}")
  list(GET c 0 what)
  list(GET c 1 sig)
  list(GET c 2 code)
  if(sig STREQUAL "exit")
    set(line "exit\\(42\\) called in task 'crash_exit' called at ${F}:${L_cr_exit}$")
  else()
    set(line "crashed \\(${sig}\\) in task 'crash_${what}' called at ${F}:${L_cr_${what}}$")
  endif()
  sf_fail_test(crash_${what} MODES debug sim EXIT ${code} ARGS crash_${what} EXPECT
    "^sfmpi: \\[@MODE@ bob/0 #1\\] ${line}")
  sf_fail_test(crash_${what} MODES prod EXIT ${code} MAX_SECONDS 10 ARGS crash_${what} EXPECT
    "^sfmpi: \\[prod bob/0 #1\\] ${line}"
    "^sfmpi: \\[prod alice\\] error: (party carol stopped the run \\(exit 6\\): carol: )?party bob \\(127\\.0\\.0\\.1:[0-9]+\\) lost: its process is gone"
    "^sfmpi: \\[prod carol\\] error: (party alice stopped the run \\(exit 6\\): alice: )?party bob \\(127\\.0\\.0\\.1:[0-9]+\\) lost: its process is gone")
endforeach()
endif()
# 8c. A task whose frame jumps past the end of its coroutine stack (a 300 or 600 KiB local
#     array written at its far end first, 256 KiB stacks): the guard region below each
#     stack (1 MiB) catches it, by rank and task, instead of a silent overwrite of another
#     rank's stack (300) or an anonymous crash (600).
foreach(kib 300 600)
  sf_fail_test(stack_far_${kib} MODES debug EXIT 7 ARGS stack_far ${kib} EXPECT
    "^sfmpi: \\[debug bob/0\\] error: stack overflow in rank bob/0 in task 'stack_far' called at ${F}:${L_cr_far} \\(coroutine stack 256 KiB\\)")
endforeach()

# 8d. Past 30,000 ranks (3 parties x 10,001 here) stacks come 256 to a mapping with one
#     guard region per group: bob's leader sits in the middle of a group. A runaway
#     recursion runs down through its neighbours' slots into the group's guard region and
#     is named by rank and task; a dense overflow that returns is found by the canary at
#     bob's next switch, by rank and the call it made last. (Not under sanitizers: 30,003
#     instrumented coroutines, and ASan's own stack checks fire first.)
if(NOT SF_SANITIZE)
  sf_fail_test(stack_grouped MODES debug EXIT 7 ARGS stack --sf-stack-size=64k
    --sf-ranks-per-party=10001 EXPECT
    "note: 30003 ranks: stacks are grouped 256 per mapping"
    "^sfmpi: \\[debug bob/0\\] error: stack overflow in rank bob/0 in task 'recurse' called at ${F}:[0-9]+ \\(coroutine stack 64 KiB\\)")
  sf_fail_test(stack_canary MODES debug EXIT 7 ARGS stack_dense 80 --sf-stack-size=64k
    --sf-ranks-per-party=10001 EXPECT
    "^sfmpi: \\[debug bob/0\\] error: stack overflow in rank bob/0 in the program after its call at ${F}:${L_cr_dense} \\(coroutine stack 64 KiB\\)")
  # the same overflow with a guard region per stack (3 ranks) is caught at once, in the task
  sf_fail_test(stack_dense MODES debug EXIT 7 ARGS stack_dense 80 --sf-stack-size=64k EXPECT
    "^sfmpi: \\[debug bob/0\\] error: stack overflow in rank bob/0 in task 'stack_dense' called at ${F}:${L_cr_dense} \\(coroutine stack 64 KiB\\)")
endif()

# 9. Early return: bob's program returns while alice waits for bob's object #1.
sf_fail_test(early_return MODES debug EXIT 6 ARGS early_return EXPECT
  "\\[debug alice/0 #2\\] error: party bob finished its program (\\(after its call #1 at ${F}:${L_er_make}\\) )?while party alice, at call #2 \\(${F}:${L_er_wait}\\), waits for object #1 from it$")
sf_fail_test(early_return MODES sim prod EXIT 6 ARGS early_return EXPECT
  "\\[@MODE@ alice/0 #2\\] error: party bob finished its program \\(after its call #1 at ${F}:${L_er_make}\\) while party alice, at call #2 \\(${F}:${L_er_wait}\\), waits for object #1 from it$")

# 10. A task writes into its argument (checked in debug mode).
sf_fail_test(arg_write MODES debug EXIT 3 ARGS arg_write EXPECT
  "\\[debug bob/0 #2\\] error: stopping at the first failure:"
  "task 'scribble' failed on party bob at call #2 \\(${F}:${L_aw_call}\\): wrote into its argument 0 \\(object #1\\): arguments are read-only")

# 11. Use after release.
sf_fail_test(released MODES debug sim prod EXIT 1 ARGS released EXPECT
  "\\[@MODE@ (alice|bob|carol)/0 #3\\] error: use_value at ${F}:${L_rel_use}: object #1 does not exist \\(released already")

# 12. A runtime call (sf_get) inside a task.
sf_fail_test(task_call MODES debug sim prod EXIT 1 ARGS task_call EXPECT
  "\\[@MODE@ bob/0 #2\\] error: sf_get called inside a task at ${F}:${L_tc_get}: a task runs on one party and cannot make runtime calls")

# 13. A party's own return r becomes its process status 16 + r (capped at 127); in debug mode
#     (one process) the status is the first failing party's. The report names the party.
sf_fail_test(party_return MODES debug sim prod EXIT 19 ARGS party_return bob 3 EXPECT
  "\\[@MODE@ bob/0 #2\\] the program returned 3 \\(the program's own code\\): party bob exits with status 19")
sf_fail_test(party_return_cap MODES debug sim prod EXIT 127 ARGS party_return carol 200 EXPECT
  "\\[@MODE@ carol/0 #2\\] the program returned 200 .*: party carol exits with status 127")
