#include "cli/completion.hpp"

#include <fmt/format.h>

#include "cli/choices.hpp"

namespace mailproxy::cli {
namespace {

std::string kind_of(const CLI::Option* opt, std::vector<std::string>& choices) {
    if (const auto* c = choices_of(opt)) {
        choices = *c;
        return "choices";
    }
    const auto type = opt->get_type_name();
    if (type.starts_with("FILE"))
        return "file";
    if (type.starts_with("DIR"))
        return "dir";
    return "";
}

void walk(const CLI::App& app, const std::string& path, std::vector<OptionSpec> inherited,
          std::vector<CommandSpec>& out) {
    CommandSpec spec;
    spec.path = path;
    spec.description = app.get_description();
    std::vector<OptionSpec> own;
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->get_positional() && !opt->nonpositional()) {
            spec.has_positional = true;
            spec.positional_kind = kind_of(opt, spec.positional_choices);
            continue;
        }
        OptionSpec o;
        for (const auto& s : opt->get_snames())
            o.names.push_back("-" + s);
        for (const auto& l : opt->get_lnames())
            o.names.push_back("--" + l);
        o.takes_value = opt->get_items_expected_max() > 0;
        if (o.takes_value)
            o.value_kind = kind_of(opt, o.choices);
        o.description = opt->get_description();
        own.push_back(std::move(o));
    }
    spec.options = own;
    for (auto& o : inherited) {
        const bool shadowed =
            std::any_of(own.begin(), own.end(), [&](const OptionSpec& x) { return x.names == o.names; });
        if (!shadowed)
            spec.options.push_back(o);
    }
    const auto subs = app.get_subcommands([](const CLI::App*) { return true; });
    for (const CLI::App* sub : subs)
        spec.subcommands.push_back(sub->get_name());
    out.push_back(spec);
    for (const CLI::App* sub : subs) {
        walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), spec.options, out);
    }
}

std::string sq(std::string_view s) {
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string join(const std::vector<std::string>& v, std::string_view sep = " ") {
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : std::string(sep)) + s;
    return out;
}

std::string kind_word(const std::string& kind, const std::vector<std::string>& choices) {
    return kind == "choices" ? "choices " + join(choices) : (kind.empty() ? "any" : kind);
}

/// Shell functions shared by bash and zsh (both run them): the tree as data.
std::string data_functions(const std::vector<CommandSpec>& tree, bool describe_items) {
    std::string s;
    s += "_mailproxy_subcommands() {\n    case \"$1\" in\n";
    for (const auto& c : tree) {
        if (c.subcommands.empty())
            continue;
        s += fmt::format("        {}) echo {} ;;\n", sq(c.path), sq(join(c.subcommands)));
    }
    s += "    esac\n}\n";
    s += "_mailproxy_options() {\n    case \"$1\" in\n";
    for (const auto& c : tree) {
        std::vector<std::string> names;
        for (const auto& o : c.options)
            names.insert(names.end(), o.names.begin(), o.names.end());
        s += fmt::format("        {}) echo {} ;;\n", sq(c.path), sq(join(names)));
    }
    s += "    esac\n}\n";
    s += "# prints how the value of option $2 of command $1 completes; fails for options without a value\n";
    s += "_mailproxy_option_value() {\n    case \"$1 $2\" in\n";
    for (const auto& c : tree) {
        for (const auto& o : c.options) {
            if (!o.takes_value)
                continue;
            std::vector<std::string> keys;
            for (const auto& n : o.names)
                keys.push_back(sq(c.path + " " + n));
            s += fmt::format("        {}) echo {} ;;\n", join(keys, "|"),
                             sq(kind_word(o.value_kind, o.choices)));
        }
    }
    s += "        *) return 1 ;;\n    esac\n}\n";
    s += "_mailproxy_positional() {\n    case \"$1\" in\n";
    for (const auto& c : tree) {
        if (!c.has_positional || c.positional_kind.empty())
            continue;
        s += fmt::format("        {}) echo {} ;;\n", sq(c.path),
                         sq(kind_word(c.positional_kind, c.positional_choices)));
    }
    s += "        *) return 1 ;;\n    esac\n}\n";
    if (describe_items) {
        s += "_mailproxy_described() {\n    case \"$1\" in\n";
        for (const auto& c : tree) {
            std::vector<std::string> lines;
            for (const auto& o : c.options) {
                for (const auto& n : o.names)
                    lines.push_back(n + ":" + o.description);
            }
            s += fmt::format("        {}) print -r -- {} ;;\n", sq("options " + c.path),
                             sq(join(lines, "\n")));
            if (c.subcommands.empty())
                continue;
            lines.clear();
            for (const auto& sub : tree) {
                const auto prefix = c.path.empty() ? std::string() : c.path + " ";
                if (sub.path.starts_with(prefix) && sub.path.size() > prefix.size() &&
                    sub.path.find(' ', prefix.size()) == std::string::npos) {
                    lines.push_back(sub.path.substr(prefix.size()) + ":" + sub.description);
                }
            }
            s += fmt::format("        {}) print -r -- {} ;;\n", sq("commands " + c.path),
                             sq(join(lines, "\n")));
        }
        s += "    esac\n}\n";
    }
    return s;
}

// Finds the command path and whether the word being completed is an option's value; the loop is the
// same in bash and zsh, only the word array differs.
constexpr std::string_view k_scan = R"SH(    local cmdpath="" value_of="" i w
    for ((i = 1; i < cword; i++)); do
        w="${cwords[i]}"
        if [[ "$w" == -* ]]; then
            [[ "$w" == *=* ]] && continue
            if _mailproxy_option_value "$cmdpath" "$w" >/dev/null; then
                if ((i + 1 == cword)); then value_of="$w"; else ((i++)); fi
            fi
        elif [[ " $(_mailproxy_subcommands "$cmdpath") " == *" $w "* ]]; then
            cmdpath="${cmdpath:+$cmdpath }$w"
        fi
    done
)SH";

std::string bash_script(const std::vector<CommandSpec>& tree) {
    std::string s =
        "# bash completion for mailproxy; generated by 'mailproxy completion bash', do not edit\n";
    s += data_functions(tree, false);
    s += R"SH(_mailproxy_reply() {
    case "$1" in
        file) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;
        dir) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;
        choices\ *) COMPREPLY=($(compgen -W "${1#choices }" -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}
_mailproxy() {
    local cur="${COMP_WORDS[COMP_CWORD]}" cword=$COMP_CWORD kind
    local -a cwords=("${COMP_WORDS[@]}")
)SH";
    s += k_scan;
    s += R"SH(    if [[ -n "$value_of" ]]; then
        _mailproxy_reply "$(_mailproxy_option_value "$cmdpath" "$value_of")"
    elif [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$(_mailproxy_options "$cmdpath")" -- "$cur"))
    elif [[ -n "$(_mailproxy_subcommands "$cmdpath")" ]]; then
        COMPREPLY=($(compgen -W "$(_mailproxy_subcommands "$cmdpath")" -- "$cur"))
    elif kind=$(_mailproxy_positional "$cmdpath"); then
        _mailproxy_reply "$kind"
    else
        COMPREPLY=()
    fi
}
complete -F _mailproxy mailproxy
)SH";
    return s;
}

std::string zsh_script(const std::vector<CommandSpec>& tree) {
    std::string s =
        "#compdef mailproxy\n# zsh completion for mailproxy; generated by 'mailproxy completion zsh', do not "
        "edit\n";
    s += data_functions(tree, true);
    s += R"SH(_mailproxy_reply() {
    case "$1" in
        file) _files ;;
        dir) _files -/ ;;
        choices\ *) compadd -- ${=${1#choices }} ;;
    esac
}
_mailproxy() {
    emulate -L zsh -o ksh_arrays
    local cword=$((CURRENT - 1)) kind
    local -a cwords items
    cwords=("${words[@]}")
)SH";
    s += k_scan;
    s += R"SH(    if [[ -n "$value_of" ]]; then
        _mailproxy_reply "$(_mailproxy_option_value "$cmdpath" "$value_of")"
    elif [[ "$PREFIX" == -* ]]; then
        items=("${(@f)$(_mailproxy_described "options $cmdpath")}")
        _describe -t options option items
    elif [[ -n "$(_mailproxy_subcommands "$cmdpath")" ]]; then
        items=("${(@f)$(_mailproxy_described "commands $cmdpath")}")
        _describe -t commands command items
    elif kind=$(_mailproxy_positional "$cmdpath"); then
        _mailproxy_reply "$kind"
    fi
}
if [[ "$funcstack[1]" == _mailproxy ]]; then
    _mailproxy "$@"
else
    compdef _mailproxy mailproxy
fi
)SH";
    return s;
}

std::string fish_script(const std::vector<CommandSpec>& tree) {
    std::string s =
        "# fish completion for mailproxy; generated by 'mailproxy completion fish', do not edit\n";
    std::vector<std::string> subs, valued;
    for (const auto& c : tree) {
        for (const auto& sub : c.subcommands)
            subs.push_back(sq(c.path + "|" + sub));
        for (const auto& o : c.options) {
            if (!o.takes_value)
                continue;
            for (const auto& n : o.names)
                valued.push_back(sq(c.path + "|" + n));
        }
    }
    s += "set -g __mailproxy_subcommands " + join(subs) + "\n";
    s += "set -g __mailproxy_valued " + join(valued) + "\n";
    s += R"SH(function __mailproxy_path --description 'the mailproxy command path typed so far'
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmdpath ''
    set -l skip 0
    for w in $words
        if test $skip -eq 1
            set skip 0
        else if string match -q -- '-*' $w
            if not string match -q -- '*=*' $w; and contains -- "$cmdpath|$w" $__mailproxy_valued
                set skip 1
            end
        else if contains -- "$cmdpath|$w" $__mailproxy_subcommands
            set cmdpath (string trim -- "$cmdpath $w")
        end
    end
    echo $cmdpath
end
function __mailproxy_at --description 'true when the command path typed so far is $argv[1]'
    test (__mailproxy_path) = "$argv[1]"
end
complete -c mailproxy -f
)SH";
    for (const auto& c : tree) {
        const auto cond = sq("__mailproxy_at " + sq(c.path));
        for (const auto& sub : tree) {
            const auto prefix = c.path.empty() ? std::string() : c.path + " ";
            if (sub.path.starts_with(prefix) && sub.path.size() > prefix.size() &&
                sub.path.find(' ', prefix.size()) == std::string::npos) {
                s += fmt::format("complete -c mailproxy -n {} -a {} -d {}\n", cond,
                                 sq(sub.path.substr(prefix.size())), sq(sub.description));
            }
        }
        for (const auto& o : c.options) {
            std::string flags;
            for (const auto& n : o.names) {
                flags += n.starts_with("--") ? " -l " + n.substr(2) : " -s " + n.substr(1);
            }
            if (o.takes_value) {
                if (o.value_kind == "choices") {
                    flags += " -x -a " + sq(join(o.choices));
                } else if (o.value_kind == "file") {
                    flags += " -r -F";
                } else if (o.value_kind == "dir") {
                    flags += " -r -a '(__fish_complete_directories)'";
                } else {
                    flags += " -x";
                }
            }
            s += fmt::format("complete -c mailproxy -n {}{} -d {}\n", cond, flags, sq(o.description));
        }
        if (c.has_positional && c.positional_kind == "choices") {
            s += fmt::format("complete -c mailproxy -n {} -a {}\n", cond, sq(join(c.positional_choices)));
        } else if (c.has_positional && c.positional_kind == "file") {
            s += fmt::format("complete -c mailproxy -n {} -F\n", cond);
        }
    }
    return s;
}

}  // namespace

std::vector<CommandSpec> describe(const CLI::App& root) {
    std::vector<CommandSpec> out;
    walk(root, "", {}, out);
    return out;
}

Expected<std::string> completion_script(const CLI::App& root, std::string_view shell) {
    const auto tree = describe(root);
    if (shell == "bash")
        return bash_script(tree);
    if (shell == "zsh")
        return zsh_script(tree);
    if (shell == "fish")
        return fish_script(tree);
    return fail(ErrorCode::invalid,
                fmt::format("no completion for shell '{}' (use bash, zsh or fish)", shell));
}

}  // namespace mailproxy::cli
