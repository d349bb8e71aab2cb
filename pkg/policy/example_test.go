package policy_test

import (
	"fmt"
	"log"

	"keycard/pkg/connectors"
	"keycard/pkg/event"
	"keycard/pkg/policy"
)

func ExampleLoad() {
	cfg, err := policy.Load("testdata/policy.yaml", connectors.Registry())
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range cfg.Apps {
		fmt.Printf("%s: %s, %s, %d writes/min\n", a.Name, a.Type, a.Mode, a.RateLimit.WritesPerMinute)
	}
	// Output:
	// slack: scim, apply, 180 writes/min
	// google: google, apply, 2400 writes/min
	// github: github, dry-run, 8 writes/min
	// zoom: scim, apply, 30 writes/min
	// pipedrive: pipedrive, dry-run, 240 writes/min
	// notion: dryrun, dry-run, 60 writes/min
}

func ExampleParse() {
	_, err := policy.Parse("keycard.yaml", []byte(`apps:
  - name: slack
    type: scim
    token: xoxp-123
policy:
  rules:
    - when: 'employe.department == "Engineering"'
      grant: {slack: {groups: [eng]}, github: {}}
`), connectors.Registry())
	fmt.Println(err)
	// Output:
	// keycard.yaml:4:5: apps[0].token: unknown key; secrets never go in this file: name the environment variable that holds it with token_env
	// keycard.yaml:7:14: policy.rules[0].when: undeclared reference to 'employe' (did you mean 'employee'?)
	// keycard.yaml:8:39: policy.rules[0].grant.github: app "github" is not defined in apps
}

func ExampleConfig_Evaluate() {
	cfg, err := policy.Parse("keycard.yaml", []byte(`apps:
  - {name: slack, type: scim, token_env: SLACK_SCIM_TOKEN}
  - {name: github, type: github, token_env: GITHUB_TOKEN}
policy:
  birthright:
    slack: {groups: [everyone]}
  rules:
    - name: engineering
      when: 'employee.department == "Engineering"'
      grant:
        slack: {groups: [eng]}
        github: {teams: [engineering]}
`), connectors.Registry())
	if err != nil {
		log.Fatal(err)
	}
	ada := event.Employee{ID: "4821", Status: event.StatusActive, Department: "Engineering", HireDate: "2025-07-01"}
	for _, today := range []string{"2025-06-30", "2025-07-01"} {
		res := cfg.Evaluate(ada, today)
		for _, app := range []string{"slack", "github"} {
			d := res.Apps[app]
			fmt.Printf("%s %s: account=%v groups=%v teams=%v matched=%v\n", today, app, d.Account, d.Groups, d.Teams, d.Matched)
		}
	}
	// Output:
	// 2025-06-30 slack: account=false groups=[] teams=[] matched=[]
	// 2025-06-30 github: account=false groups=[] teams=[] matched=[]
	// 2025-07-01 slack: account=true groups=[eng everyone] teams=[] matched=[birthright engineering]
	// 2025-07-01 github: account=true groups=[] teams=[engineering] matched=[engineering]
}
