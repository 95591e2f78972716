# The Debian package: `cpack -G DEB` in a build configured with CMAKE_INSTALL_PREFIX=/usr
# (deploy/debian/setup.sh test builds it as a packager would). Runtime dependencies come from
# dpkg-shlibdeps; tzdata provides the leap files the default configuration reads.
set(CPACK_PACKAGE_NAME smeard)
set(CPACK_PACKAGE_VENDOR smeard)
set(CPACK_PACKAGE_CONTACT "smeard maintainers <smeard@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "leap-second-smearing NTP server")
set(CPACK_PACKAGE_DESCRIPTION
    "smeard serves NTP from a local reference through a leap smear (linear, cosine or quadratic,\n\
with the Google/AWS, ntpd, NTPsec and chrony presets), each listener on exactly one timescale:\n\
smeared time or true UTC with leap warnings. smearctl queries servers, prints and plots smear\n\
schedules and converts smeared time back to UTC.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# passwd: postinst creates the smeard user with useradd.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/conffiles ${CMAKE_CURRENT_LIST_DIR}/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
