# Production-mode tests (label "prod"): real party processes on 127.0.0.1 (free ports
# chosen at run time), each test bounded by a timeout and leaving no process behind.
#   prod_proxy_*      bigtransfer through faulty_proxy (bit flips, replays, resets,
#                     bad frame lengths, flipped length bits): nothing lost, duplicated
#                     or corrupted, and the run finishes
#   prod_kill*, prod_stop_bob   a party killed (or frozen) mid-run: the others stop
#                     within peer_timeout, naming it
#   prod_refused_*    wrong key, unknown party, key file mode, another job, bad cluster key,
#                     a FIFO or device as cluster or key file
#   prod_example_*    every example through scripts/launch-local, golden stdout
set(_sf_prod ${CMAKE_CURRENT_SOURCE_DIR}/prod)

add_executable(faulty_proxy ${_sf_prod}/faulty_proxy.c)
sf_target_defaults(faulty_proxy)
# a stranger at the parties' ports (uses the bridge's Noise code for well-formed handshakes)
add_executable(attacker ${_sf_prod}/attacker.c)
target_link_libraries(attacker PRIVATE sfmpi::internal PkgConfig::SODIUM)
target_include_directories(attacker PRIVATE ${PROJECT_SOURCE_DIR})
sf_target_defaults(attacker)
foreach(prog bigtransfer longrun)
  add_executable(${prog} ${_sf_prod}/${prog}.c)
  target_link_libraries(${prog} PRIVATE sfmpi::internal)
  sf_target_defaults(${prog})
endforeach()

if(TARGET sfmpi-keygen)
  set(_keygen $<TARGET_FILE:sfmpi-keygen>)

  # Control: the same transfer without faults (the proxy forwards only).
  sf_add_test(NAME prod_proxy_clean
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --size 64M --flips 0 --replays 0 --resets 0 --min 0
    LABELS prod TIMEOUT 120)
  # 256 MiB through 10 bit flips, 10 replays and 25 resets.
  sf_add_test(NAME prod_proxy_faults
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --flips 10 --replays 10 --resets 25 --min 3 --seed 1
    LABELS prod TIMEOUT 300)
  # The same with frame length prefixes overwritten by 0xFFFFFFFF as well.
  sf_add_test(NAME prod_proxy_badlens
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --flips 5 --replays 5 --resets 5 --badlens 10 --min 3 --seed 2
    LABELS prod TIMEOUT 300)

  # Small frames and a small window (many frames, the window often full), every fault kind.
  sf_add_test(NAME prod_proxy_smallframes
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --size 32M --channel "\"window\": 8, \"max_frame\": 4096" --span 262144
            --flips 10 --replays 10 --resets 25 --badlens 5 --min 3 --seed 3
    LABELS prod TIMEOUT 300)
  # The AES-GCM cipher (skipped without AES instructions).
  sf_add_test(NAME prod_proxy_aesgcm
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --size 64M --channel "\"cipher\": \"aesgcm\"" --require-aes 1
            --flips 5 --replays 5 --resets 5 --min 3 --seed 4
    LABELS prod TIMEOUT 300)
  set_tests_properties(prod_proxy_aesgcm PROPERTIES SKIP_RETURN_CODE 77)
  # One bit of a length prefix flipped in frames from bob to alice (acks, heartbeats): the
  # length stays under the channel's maximum, so only the AEAD check can catch it - the
  # connection must still be dropped and resumed, not stall until peer_timeout.
  sf_add_test(NAME prod_proxy_lenflip
    COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
            ${_keygen} --size 64M --flips 0 --replays 0 --resets 0 --lenflips 3 --reverse 100
            --min 1 --seed 1 --limit 100
    LABELS prod TIMEOUT 150)

  # The last frame before an orderly close (the CLOSE frame) lost with a reset, from the
  # dialer (alice) or from the target (bob): both parties finished their programs, so both
  # must exit 0, promptly.
  foreach(side dialer target)
    if(side STREQUAL "dialer")
      set(_d 0)
    else()
      set(_d 1)
    endif()
    sf_add_test(NAME prod_proxy_taildrop_${side}
      COMMAND ${_sf_prod}/test_proxy.sh $<TARGET_FILE:faulty_proxy> $<TARGET_FILE:bigtransfer>
              ${_keygen} --size 16M --flips 0 --replays 0 --resets 0 --taildrops 1
              --taildrop-dir ${_d} --min 1 --limit 100
      LABELS prod TIMEOUT 150)
  endforeach()

  # kill -9 and SIGSTOP of each party mid-run: tests/prod/faults.cmake (prod_fault_*).

  # A stranger at every party's port, at start-up and mid-run; replayed handshakes and
  # frames; bad frame lengths (label attack): the run finishes with the right output, no
  # round stalls, memory and refusal logs stay bounded.
  foreach(scenario startup midrun replay)
    sf_add_test(NAME attack_${scenario}
      COMMAND ${_sf_prod}/test_attack.sh ${scenario} $<TARGET_FILE:longrun> $<TARGET_FILE:attacker> ${_keygen}
      LABELS prod attack TIMEOUT 120)
  endforeach()

  # The secret key is not in a core dump of a running party (gcore; skipped without it).
  sf_add_test(NAME prod_key_not_in_core
    COMMAND ${_sf_prod}/test_coredump.sh $<TARGET_FILE:longrun> ${_keygen}
    LABELS prod TIMEOUT 60)
  set_tests_properties(prod_key_not_in_core PROPERTIES SKIP_RETURN_CODE 77)

  foreach(case wrong_key unknown_party key_mode other_job cluster_key fifo)
    sf_add_test(NAME prod_refused_${case}
      COMMAND ${_sf_prod}/test_refused.sh ${case} $<TARGET_FILE:bigtransfer> ${_keygen}
      LABELS prod TIMEOUT 60)
  endforeach()

  # Every example in production mode (3 party jobs via launch-local): golden stdout.
  file(STRINGS ${CMAKE_SOURCE_DIR}/examples/LIST _sf_prod_examples)
  foreach(ex IN LISTS _sf_prod_examples)
    if(NOT TARGET ${ex})
      continue()
    endif()
    sf_add_test(NAME prod_example_${ex}
      COMMAND env SFMPI_KEYGEN=${_keygen} ${CMAKE_SOURCE_DIR}/scripts/launch-local --timeout 100
              3 $<TARGET_FILE:${ex}> --sf-quiet
      LABELS prod EXPECT_EXIT 0 EXPECT_STDOUT_FILE ${CMAKE_CURRENT_SOURCE_DIR}/expected/${ex}.out
      TIMEOUT 120)
  endforeach()
endif()
