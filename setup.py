"""Maps the top-level folders into one `arena` namespace: `environments/` -> `arena.environments`,
`agents/` -> `arena.agents`, subpackages found automatically. Metadata lives in pyproject.toml."""

from setuptools import find_packages, setup

ROOTS = {"arena": "arena", "arena.environments": "environments", "arena.agents": "agents"}


def packages() -> tuple[list[str], dict[str, str]]:
    names, dirs = [], {}
    for package, folder in ROOTS.items():
        dirs[package] = folder
        names.append(package)
        names += [f"{package}.{sub}" for sub in find_packages(folder) if not sub.startswith(("environments", "agents"))]
    return names, dirs


names, dirs = packages()
setup(
    packages=names,
    package_dir=dirs,
    package_data={"": ["py.typed", "*.toml", "*.txt", "*.md", "*.json", "*.c", "*.Dockerfile", "prompts/*", "images/*",
                      "assets/*"]},
)
