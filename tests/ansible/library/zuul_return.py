"""Stand-in for Zuul's zuul_return, so `ansible-playbook --syntax-check` resolves it.

Zuul's executor provides the real action plugin; this is never run.
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"data": {"type": "dict"}})
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
