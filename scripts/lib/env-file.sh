# Sourced by the deployment scripts: reads settings from an .env file without executing it.

# The value of KEY in an env file (last assignment wins; surrounding quotes removed), or nothing.
# The file is read, never executed: an .env file is data, not a script.
env_file_value() {
	local file=$1 key=$2 line value=""
	[ -f "$file" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#"${line%%[![:space:]]*}"}
		line=${line#export }
		if [[ $line == "$key="* ]]; then
			value=${line#"$key="}
			value=${value%"${value##*[![:space:]]}"}
			if [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
		fi
	done <"$file"
	printf '%s' "$value"
}
