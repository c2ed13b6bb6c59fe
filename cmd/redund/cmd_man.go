package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
)

func newManCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the redund(1) manual page (troff)",
		Description: "Prints the manual page, made from the same text as --help, in troff.\n\n" +
			"EXAMPLES\n   redund man | man -l -\n" +
			"   redund man | gzip -9 > /usr/share/man/man1/redund.1.gz\n\n" + exitStatusHelp,
		Action: withArgs(0, 0, func(c *cli.Context) error {
			page, err := manPage(c.App)
			if err != nil {
				return failed(fmt.Errorf("man: %w", err))
			}
			printf(c, "%s", page)
			return nil
		}),
	}
}

// manPage is app's manual page in section 1, in plain ASCII troff.
// urfave/cli writes markdown and converts it, where "<instance>" would be
// taken for HTML and dropped: '<' is escaped in every text first (on the
// app about to exit: the commands are not used again).
func manPage(app *cli.App) (string, error) {
	app.Usage = mdEscape(app.Usage)
	app.Description = mdEscape(app.Description)
	escapeCommands(app.Commands)
	page, err := app.ToManWithSection(1)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, r := range page {
		if r < 128 {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, `\[u%04X]`, r) // groff's Unicode escape: no preconv needed
		}
	}
	return b.String(), nil
}

func escapeCommands(cmds []*cli.Command) {
	for _, c := range cmds {
		c.Usage, c.Description, c.ArgsUsage = mdEscape(c.Usage), mdEscape(c.Description), mdEscape(c.ArgsUsage)
		escapeCommands(c.Subcommands)
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "<", `\<`) }

func newCompletionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "The bash and zsh scripts ask redund itself for the commands and flags\n" +
			"that fit where the cursor is; the fish script lists them.\n\n" +
			"EXAMPLES\n" +
			"   redund completion bash > /usr/share/bash-completion/completions/redund\n" +
			"   redund completion zsh > /usr/share/zsh/vendor-completions/_redund\n" +
			"   redund completion fish > /usr/share/fish/vendor_completions.d/redund.fish\n" +
			"   source <(redund completion bash)\n\n" + exitStatusHelp,
		Action: withArgs(1, 1, func(c *cli.Context) error {
			switch sh := c.Args().First(); sh {
			case "bash":
				printf(c, "%s", bashCompletion)
			case "zsh":
				printf(c, "%s", zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return failed(fmt.Errorf("completion: %w", err))
				}
				printf(c, "%s", strings.TrimRight(s, "\n")+"\n")
			default:
				return usageErr("completion: unknown shell %q (bash, zsh or fish)", sh)
			}
			return nil
		}),
	}
}

// bashCompletion asks redund for the words that may follow what is typed
// (urfave/cli's --generate-bash-completion), without eval.
const bashCompletion = `# bash completion for redund (redund completion bash)
_redund() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local -a args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	[[ $cur == -* ]] && args+=("$cur")
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${args[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _redund redund
`

// zshCompletion works both autoloaded from $fpath (as _redund) and sourced.
const zshCompletion = `#compdef redund
# zsh completion for redund (redund completion zsh)
_redund() {
	local cur=${words[CURRENT]}
	local -a args opts
	args=("${(@)words[2,CURRENT-1]}")
	[[ $cur == -* ]] && args+=("$cur")
	opts=("${(@f)$(${words[1]} "${(@)args}" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${opts[1]} ]]; then
		compadd -a opts
	else
		_files
	fi
}
if [[ ${funcstack[1]} == _redund ]]; then
	_redund "$@"
else
	compdef _redund redund
fi
`
