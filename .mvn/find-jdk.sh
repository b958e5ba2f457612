# Sourced by ./mvnw, ./panamax and .ci/run: points JAVA_HOME at a JDK 25 or newer.
# Order: JAVA_HOME if it is >= 25, then common install folders, then `java` on PATH.
panamax_java_version() { # prints the feature version of the java binary given
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}
panamax_find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" \
           /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
           /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/java-25-openjdk-arm64 /usr/lib/jvm/jdk-25* \
           /usr/lib/jvm/* /opt/java/openjdk /opt/jdk* /usr/local/jdk* \
           "$HOME"/.sdkman/candidates/java/current "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    v=$(panamax_java_version "$c/bin/java")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  done
  if command -v javac >/dev/null 2>&1; then
    c=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    v=$(panamax_java_version "$c/bin/java")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then echo "$c"; return 0; fi
  fi
  return 1
}
if _pm_jdk=$(panamax_find_jdk); then
  export JAVA_HOME="$_pm_jdk"
else
  echo "Panamax needs a JDK 25 or newer: none found (set JAVA_HOME, or install e.g. temurin-25-jdk)." >&2
  exit 1
fi
unset _pm_jdk
