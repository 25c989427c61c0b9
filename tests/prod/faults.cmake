# Production-mode fault behaviours of the bridge (label "prod"; the kill/stop matrix also
# "attack"): real party processes on 127.0.0.1, each test bounded by its script's watchdog
# and a ctest TIMEOUT, no process left behind. `ctest -R prod_fault` runs the set (~1 min).
#   prod_fault_shutdown_race  bob holds alice's CLOSE, without having sent his own, when
#                    the connection drops (a proxy resets it once alice's traffic stops;
#                    another delays carol -> bob so bob's bye exchange ends later): all
#                    three exit 0 with the expected output within 30 s
#   prod_fault_kill_<victim>  kill -9 of each party at a seeded moment 0.5-2.5 s after all
#                    are up, peer_timeout 10 s: the two others exit 6 within 3 s, naming it
#                    (the dialer's redial and the other side's probe are refused)
#   prod_fault_stop_<victim>  SIGSTOP of each party (a silent host), peer_timeout 3 s: the
#                    two others exit 6 within peer_timeout + 3 s, naming exactly it
# These need faulty_proxy and longrun (built in prod.cmake, which comes first).
set(_sf_faults ${CMAKE_CURRENT_SOURCE_DIR}/prod)
if(TARGET sfmpi-keygen AND TARGET faulty_proxy AND TARGET longrun)
  set(_keygen $<TARGET_FILE:sfmpi-keygen>)

  sf_add_test(NAME prod_fault_shutdown_race
    COMMAND ${_sf_faults}/test_shutdown_race.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:longrun>
            ${_keygen} --rounds 300 --delay-ms 1500 --idle-ms 300 --limit 30
    LABELS prod TIMEOUT 60)

  set(_seed 0)
  foreach(victim alice bob carol)
    math(EXPR _seed "${_seed} + 1")
    sf_add_test(NAME prod_fault_kill_${victim}
      COMMAND ${_sf_faults}/test_kill.sh $<TARGET_FILE:longrun> ${_keygen} ${victim} KILL
              --peer-timeout 10 --within 3 --seed ${_seed}
      LABELS prod attack TIMEOUT 45)
    math(EXPR _stop_seed "${_seed} + 10")
    sf_add_test(NAME prod_fault_stop_${victim}
      COMMAND ${_sf_faults}/test_kill.sh $<TARGET_FILE:longrun> ${_keygen} ${victim} STOP
              --peer-timeout 3 --within 6 --seed ${_stop_seed}
      LABELS prod attack TIMEOUT 45)
  endforeach()
endif()
