# install-units.cmake - run by `cmake --install` (install(CODE) in packaging/CMakeLists.txt):
# writes the systemd units from herald.service.in with the paths of the prefix being installed
# to, which for the .deb is /usr (CPack installs with DESTDIR, so CMAKE_INSTALL_PREFIX is the
# package's prefix, not the staging directory), and installs them with file(INSTALL), which
# honours DESTDIR. Inputs: HERALD_UNIT_TEMPLATE, HERALD_UNIT_OUT (a scratch directory).
set(bindir "${CMAKE_INSTALL_PREFIX}/bin")
set(HERALD_DATADIR "${CMAKE_INSTALL_PREFIX}/share/herald")
set(HERALD_DOCDIR "${CMAKE_INSTALL_PREFIX}/share/doc/herald")

# name | description | command line | extra [Service] lines | comment
function(herald_unit file description exec extra comment)
    set(UNIT_FILE "${file}")
    set(UNIT_DESCRIPTION "${description}")
    set(UNIT_EXEC "${exec}")
    set(UNIT_EXTRA "${extra}")
    set(UNIT_COMMENT "${comment}")
    configure_file("${HERALD_UNIT_TEMPLATE}" "${HERALD_UNIT_OUT}/${file}" @ONLY)
endfunction()

herald_unit(herald-router.service "herald router (user to comet placement)"
    "${bindir}/herald-router --config /etc/herald/router.ini" ""
    "One router per host; logic lists every router in [router] addrs.")
herald_unit(herald-logic.service "herald logic (HTTP API, auth, Redis inbox, Kafka producer)"
    "${bindir}/herald-logic --config /etc/herald/logic.ini" ""
    "The web console is read from http.web_root, relative to WorkingDirectory (below).")
herald_unit(herald-job.service "herald job (Kafka consumer, delivery to the comets)"
    "${bindir}/herald-job --config /etc/herald/job.ini" "" "")
# A template: `systemctl enable --now herald-comet@1 herald-comet@2` runs two comets on one host,
# each with its own file (its own server.id and ports).
herald_unit(herald-comet@.service "herald comet %i (client connections)"
    "${bindir}/herald-comet --config /etc/herald/comet-%i.ini"
    "ExecReload=/bin/kill -HUP $MAINPID"
    "Instance %i reads /etc/herald/comet-%i.ini; SIGHUP (systemctl reload) reloads the TLS files.")

file(INSTALL
    "${HERALD_UNIT_OUT}/herald-router.service" "${HERALD_UNIT_OUT}/herald-logic.service"
    "${HERALD_UNIT_OUT}/herald-job.service" "${HERALD_UNIT_OUT}/herald-comet@.service"
    DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
